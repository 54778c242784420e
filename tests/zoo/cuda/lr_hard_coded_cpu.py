"""Logistic regression trained without autograd: a hand-written forward, backward and optimize step."""

import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LR(nn.Module):
    """Logistic regression on column samples: ``x`` has shape ``(dim, m)``."""

    def __init__(self, dim: int, lr: torch.Tensor = torch.scalar_tensor(0.01)) -> None:
        super().__init__()
        self.w = torch.zeros(dim, 1, dtype=torch.float32, device="cpu")
        self.b = torch.scalar_tensor(0, dtype=torch.float32, device="cpu")
        self.grads = {
            "dw": torch.zeros(dim, 1, dtype=torch.float32, device="cpu"),
            "db": torch.scalar_tensor(0, dtype=torch.float32, device="cpu"),
        }
        self.lr = lr.to(device) if isinstance(lr, torch.Tensor) else torch.scalar_tensor(lr, device="cpu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted probabilities, shape ``(1, m)``."""
        z = torch.mm(self.w.T, x) + self.b
        return self.sigmoid(z)

    def sigmoid(self, z: torch.Tensor) -> torch.Tensor:
        """The logistic function, finite for any finite ``z``."""
        return 1 / (1 + torch.exp(-z))

    def backward(self, x: torch.Tensor, yhat: torch.Tensor, y: torch.Tensor) -> None:
        """Gradients of the mean binary cross-entropy, into ``self.grads``."""
        m = x.shape[1]
        self.grads["dw"] = (1 / m) * torch.mm(x, (yhat - y).T)
        self.grads["db"] = (1 / m) * torch.sum(yhat - y)

    def optimize(self) -> None:
        """One gradient-descent step."""
        self.w = self.w - self.lr * self.grads["dw"]
        self.b = self.b - self.lr * self.grads["db"]
