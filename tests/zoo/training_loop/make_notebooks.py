"""Regenerate the notebook submissions of the training_loop zoo: `python tests/zoo/training_loop/make_notebooks.py`."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

IMPORTS = """import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")"""

DEMO = """torch.manual_seed(0)
X = torch.randn(100, 2, device=device)
Y = (X[:, 0] > X[:, 1]).long()
net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2)).to(device)
opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
history = train(net, X, Y, nn.CrossEntropyLoss(), opt, 30)
print(f"loss {history[0]:.3f} -> {history[-1]:.3f}, accuracy {evaluate(net, X, Y):.1%}")"""


def notebook(*cells):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = list(cells)
    return nb


def write(name, nb):
    nbformat.validate(nb)
    nbformat.write(nb, HERE / name)


# Correct, notebook style: zero_grad(set_to_none=False) (gradients zeroed in place), float(loss), an evaluate
# that counts the right predictions in a loop over the samples, and a demo cell that trains a network.
write("correct_notebook.ipynb", notebook(
    new_markdown_cell("# Lab 4: the training loop"),
    new_code_cell(IMPORTS),
    new_markdown_cell("## Training"),
    new_code_cell('''def train(model, inputs, labels, criterion, optimizer, epochs):
    losses = []
    for epoch in range(epochs):
        optimizer.zero_grad(set_to_none=False)
        y_pred = model(inputs)
        loss = criterion(y_pred, labels)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    return losses'''),
    new_markdown_cell("## Evaluation"),
    new_code_cell('''def evaluate(model, inputs, labels):
    model.eval()
    correct = 0
    with torch.no_grad():
        scores = model(inputs)
        for score, label in zip(scores, labels):
            if score.argmax() == label:
                correct += 1
    return correct / len(labels)'''),
    new_code_cell(DEMO),
))

# A mistake in a notebook: the training cell appends the loss tensor itself (and the demo cell still runs).
write("nb_losses_as_tensors.ipynb", notebook(
    new_code_cell(IMPORTS),
    new_code_cell('''def train(model, inputs, labels, criterion, optimizer, epochs):
    loss_history = []
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        loss_history.append(loss)  # keeps the tensors
    return loss_history


def evaluate(model, inputs, labels):
    model.eval()
    with torch.no_grad():
        return (model(inputs).argmax(1) == labels).float().mean().item()'''),
    new_code_cell(DEMO),
))
