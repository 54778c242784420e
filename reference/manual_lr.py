"""Logistic regression trained without autograd: a hand-written forward, backward and optimize step."""

import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LR(nn.Module):
    """Logistic regression on column samples: ``x`` has shape ``(dim, m)``."""

    def __init__(self, dim: int, lr: torch.Tensor = torch.scalar_tensor(0.01)) -> None:
        super().__init__()
        # BEGIN SOLUTION
        self.w = torch.zeros(dim, 1, dtype=torch.float32, device=device)
        self.b = torch.scalar_tensor(0, dtype=torch.float32, device=device)
        self.grads = {
            "dw": torch.zeros(dim, 1, dtype=torch.float32, device=device),
            "db": torch.scalar_tensor(0, dtype=torch.float32, device=device),
        }
        self.lr = lr.to(device) if isinstance(lr, torch.Tensor) else torch.scalar_tensor(lr, device=device)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted probabilities, shape ``(1, m)``."""
        # BEGIN SOLUTION
        z = torch.mm(self.w.T, x) + self.b
        return self.sigmoid(z)
        # END SOLUTION

    def sigmoid(self, z: torch.Tensor) -> torch.Tensor:
        """The logistic function, finite for any finite ``z``."""
        # BEGIN SOLUTION
        return 1 / (1 + torch.exp(-z))
        # END SOLUTION

    def backward(self, x: torch.Tensor, yhat: torch.Tensor, y: torch.Tensor) -> None:
        """Gradients of the mean binary cross-entropy, into ``self.grads``."""
        # BEGIN SOLUTION
        m = x.shape[1]
        self.grads["dw"] = (1 / m) * torch.mm(x, (yhat - y).T)
        self.grads["db"] = (1 / m) * torch.sum(yhat - y)
        # END SOLUTION

    def optimize(self) -> None:
        """One gradient-descent step."""
        # BEGIN SOLUTION
        self.w = self.w - self.lr * self.grads["dw"]
        self.b = self.b - self.lr * self.grads["db"]
        # END SOLUTION
