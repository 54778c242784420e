"""Regenerate the notebook submissions of the manual_lr zoo: `python tests/zoo/manual_lr/make_notebooks.py`."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

IMPORTS = """import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(device)"""

CLASS = '''class LR(nn.Module):
    def __init__(self, dim, lr=torch.scalar_tensor(0.01)):
        super(LR, self).__init__()
        self.w = torch.zeros(dim, 1, dtype=torch.float).to(device)
        self.b = torch.scalar_tensor(0).to(device)
        self.grads = {"dw": torch.zeros(dim, 1, dtype=torch.float).to(device),
                      "db": torch.scalar_tensor(0).to(device)}
        self.lr = lr.to(device)

    def forward(self, x):
        z = torch.mm(self.w.T, x) + self.b
        return self.sigmoid(z)

    def sigmoid(self, z):
        return 1 / (1 + torch.exp(-z))

    def backward(self, x, yhat, y):
        m = x.shape[1]
        self.grads["dw"] = (1 / m) * torch.mm(x, (yhat - y).T)
        self.grads["db"] = (1 / m) * torch.sum(yhat - y)

    def optimize(self):
        self.w = self.w - self.lr * self.grads["dw"]
        self.b = self.b - self.lr * self.grads["db"]'''

DATA = """torch.manual_seed(0)
X = torch.randn(2, 200, device=device)
Y = (X[0:1] - X[1:2] > 0).float()
model = LR(2, lr=torch.scalar_tensor(0.5))"""

TRAIN = """costs = []
for epoch in range(50):
    yhat = model.forward(X)
    cost = -torch.mean(Y * torch.log(yhat) + (1 - Y) * torch.log(1 - yhat))
    model.backward(X, yhat, Y)
    model.optimize()
    costs.append(cost.item())
print(costs[-1])"""


def notebook(*cells):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = list(cells)
    return nb


def write(name, nb):
    nbformat.validate(nb)
    nbformat.write(nb, HERE / name)


# The class split over several cells: methods are written one cell at a time and attached to the class.
write("correct_split_cells.ipynb", notebook(
    new_markdown_cell("# Logistic regression without autograd"),
    new_code_cell(IMPORTS),
    new_markdown_cell("## The model: `__init__`, `forward` and `sigmoid` first"),
    new_code_cell('''class LR(nn.Module):
    def __init__(self, dim, lr=torch.scalar_tensor(0.01)):
        super().__init__()
        self.w = torch.zeros(dim, 1, device=device)
        self.b = torch.scalar_tensor(0, device=device)
        self.grads = {"dw": torch.zeros(dim, 1, device=device), "db": torch.scalar_tensor(0, device=device)}
        self.lr = lr.to(device)

    def forward(self, x):
        return self.sigmoid(self.w.T @ x + self.b)

    def sigmoid(self, z):
        return 1 / (1 + torch.exp(-z))'''),
    new_markdown_cell("## Backward, by hand"),
    new_code_cell('''def backward(self, x, yhat, y):
    m = x.shape[1]
    self.grads["dw"] = (1 / m) * (x @ (yhat - y).T)
    self.grads["db"] = (1 / m) * torch.sum(yhat - y)


LR.backward = backward'''),
    new_markdown_cell("## One step of gradient descent"),
    new_code_cell('''def optimize(self):
    self.w = self.w - self.lr * self.grads["dw"]
    self.b = self.b - self.lr * self.grads["db"]


setattr(LR, "optimize", optimize)'''),
    new_code_cell(DATA),
    new_code_cell(TRAIN),
))

# %matplotlib inline in the imports cell (cell 1) and %%time on the cell that holds the class (cell 3).
write("nb_magics.ipynb", notebook(
    new_code_cell("%matplotlib inline\n" + IMPORTS),
    new_markdown_cell("The model"),
    new_code_cell("%%time\n" + CLASS),
    new_code_cell(DATA),
))

# A Colab-style first cell that installs torch with a shell escape (cell 1, line 1).
write("nb_pip_install.ipynb", notebook(
    new_code_cell("!pip install torch\n" + IMPORTS),
    new_code_cell(CLASS),
))

# Training works, then the plotting cell (cell 5) fails: `plt` was never imported.
write("nb_failing_plot.ipynb", notebook(
    new_code_cell(IMPORTS),
    new_code_cell(CLASS),
    new_code_cell(DATA),
    new_code_cell(TRAIN),
    new_code_cell("# plot the learning curve\nplt.plot(costs)\nplt.xlabel('epoch')\nplt.show()"),
))

# A training cell (cell 4) that would run for many minutes: the loader stops it after its budget.
write("nb_long_training.ipynb", notebook(
    new_code_cell(IMPORTS),
    new_code_cell(CLASS),
    new_code_cell(DATA),
    new_code_cell("""for epoch in range(10_000_000):
    yhat = model.forward(X)
    model.backward(X, yhat, Y)
    model.optimize()
    if epoch % 1_000_000 == 0:
        print(epoch)"""),
    new_code_cell("print('done')"),
))

# A cell that never ends (cell 3), before the definitions of the next cell.
write("nb_while_true.ipynb", notebook(
    new_code_cell(IMPORTS),
    new_markdown_cell("Wait for the GPU to be ready"),
    new_code_cell("ready = False\nwhile not ready:\n    pass"),
    new_code_cell(CLASS),
))

# A %%bash cell (cell 2) that is not Python: it is not run; the rest is.
write("nb_bash_cell.ipynb", notebook(
    new_code_cell(IMPORTS),
    new_code_cell("%%bash\nnvidia-smi\npip list | grep torch"),
    new_code_cell(CLASS),
))
