"""Logistic regression trained without autograd: a hand-written forward, backward and optimize step."""

import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LR(nn.Module):
    """Logistic regression on column samples: ``x`` has shape ``(dim, m)``."""

    def __init__(self, dim: int, lr: torch.Tensor = torch.scalar_tensor(0.01)) -> None:
        super().__init__()
        # TODO: write this part.
        raise NotImplementedError("write this part")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted probabilities, shape ``(1, m)``."""
        # TODO: write this part.
        raise NotImplementedError("write this part")

    def sigmoid(self, z: torch.Tensor) -> torch.Tensor:
        """The logistic function, finite for any finite ``z``."""
        # TODO: write this part.
        raise NotImplementedError("write this part")

    def backward(self, x: torch.Tensor, yhat: torch.Tensor, y: torch.Tensor) -> None:
        """Gradients of the mean binary cross-entropy, into ``self.grads``."""
        # TODO: write this part.
        raise NotImplementedError("write this part")

    def optimize(self) -> None:
        """One gradient-descent step."""
        # TODO: write this part.
        raise NotImplementedError("write this part")
