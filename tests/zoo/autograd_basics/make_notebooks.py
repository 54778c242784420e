"""Regenerate the notebook submissions of the autograd_basics zoo: `python tests/zoo/autograd_basics/make_notebooks.py`."""

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


# The course notes' way, cell by cell: the example at the top level, then the functions, then a check.
write("correct_course_notebook.ipynb", notebook(
    new_markdown_cell("# Differentiation in Autograd"),
    new_code_cell("import torch"),
    new_code_cell("""a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
Q = 3*a**3 - b**2
external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)
print(9*a**2 == a.grad)
print(-2*b == b.grad)"""),
    new_markdown_cell("Now as functions that leave the caller's tensors alone."),
    new_code_cell("""def q_function(a, b):
    return 3*a**3 - b**2


def q_gradients(a, b, external_grad):
    a = a.detach().clone()
    b = b.detach().clone()
    a.requires_grad = True
    b.requires_grad = True
    Q = q_function(a, b)
    Q.backward(gradient=external_grad)
    return a.grad, b.grad"""),
    new_code_cell("q_gradients(torch.tensor([2., 3.]), torch.tensor([6., 4.]), torch.tensor([1., 1.]))"),
))
