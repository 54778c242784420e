"""The training loop (zero_grad, forward, loss, backward, step) and an evaluation in eval mode."""

import torch
from torch import nn


def train(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    epochs: int,
) -> list[float]:
    """Train ``model`` on the whole batch for ``epochs`` steps; return each epoch's loss as a Python float."""
    # BEGIN SOLUTION
    model.train()
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
    # END SOLUTION


def evaluate(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of samples whose highest-scoring class is the label, in eval mode and without autograd."""
    # BEGIN SOLUTION
    model.eval()
    with torch.no_grad():
        outputs = model(inputs)
    predictions = torch.argmax(outputs, dim=1)
    return (predictions == labels).float().mean().item()
    # END SOLUTION
