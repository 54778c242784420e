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
    # TODO: write this part.
    raise NotImplementedError("write this part")


def evaluate(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of samples whose highest-scoring class is the label, in eval mode and without autograd."""
    # TODO: write this part.
    raise NotImplementedError("write this part")
