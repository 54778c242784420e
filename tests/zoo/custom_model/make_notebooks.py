"""Regenerate the notebook submissions of the custom_model zoo: `python tests/zoo/custom_model/make_notebooks.py`."""

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


# The documentation's example, as a student types it in a notebook, with the cells that try it out.
write("correct_notebook.ipynb", notebook(
    new_markdown_cell("# Custom model\nTwo convolutions, each followed by a ReLU."),
    new_code_cell("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F"),
    new_code_cell('''class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 20, 5)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        return F.relu(self.conv2(x))'''),
    new_markdown_cell("Check the shapes and count the parameters."),
    new_code_cell('''model = Model()
print(model)
for name, child in model.named_children():
    print(name, child)
print(sum(p.numel() for p in model.parameters()))'''),
    new_code_cell('''x = torch.randn(4, 1, 28, 28)
out = model(x)
out.shape'''),
))
