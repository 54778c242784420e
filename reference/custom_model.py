"""A custom model: two convolutions, each followed by a ReLU (the PyTorch documentation's example)."""

import torch
from torch import nn


class Model(nn.Module):
    """``relu(conv2(relu(conv1(x))))``: maps ``(N, 1, 28, 28)`` images to ``(N, 20, 20, 20)`` features."""

    def __init__(self) -> None:
        super().__init__()
        # BEGIN SOLUTION
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 20, 5)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply conv1, ReLU, conv2, ReLU."""
        # BEGIN SOLUTION
        x = torch.relu(self.conv1(x))
        return torch.relu(self.conv2(x))
        # END SOLUTION
