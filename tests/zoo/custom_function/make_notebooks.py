"""Regenerate the notebook submissions of the custom_function zoo: `python tests/zoo/custom_function/make_notebooks.py`."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def notebook(*cells):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = list(cells)
    return nb


def write(name, nb):
    nbformat.validate(nb)
    nbformat.write(nb, HERE / name)


# Course-notes style: the Function with @ and .T, then gradcheck run in the notebook itself.
write("correct_notebook.ipynb", notebook(
    new_markdown_cell("# Extending autograd: a linear Function"),
    new_code_cell("import torch\nfrom torch.autograd import gradcheck"),
    new_code_cell('''class LinearFunction(torch.autograd.Function):

    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input @ weight.T
        if bias is not None:
            output = output + bias
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_output @ weight
        grad_weight = grad_output.T @ input
        grad_bias = None
        if bias is not None:
            grad_bias = grad_output.sum(0)
        return grad_input, grad_weight, grad_bias'''),
    new_code_cell('''linear = LinearFunction.apply
input = (torch.randn(20, 20, dtype=torch.double, requires_grad=True),
         torch.randn(30, 20, dtype=torch.double, requires_grad=True))
test = gradcheck(linear, input, eps=1e-6, atol=1e-4)
print(test)'''),
))
