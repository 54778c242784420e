# the layers live in an nn.Sequential; conv1 / conv2 are also attributes pointing at the same layers
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 20, 5),
            nn.ReLU(),
            nn.Conv2d(20, 20, 5),
            nn.ReLU(),
        )
        self.conv1 = self.features[0]
        self.conv2 = self.features[2]

    def forward(self, x):
        return self.features(x)
