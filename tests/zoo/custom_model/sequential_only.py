# the whole model is one nn.Sequential: registered, but there are no attributes conv1 and conv2
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 20, 5),
            nn.ReLU(),
            nn.Conv2d(20, 20, 5),
            nn.ReLU(),
        )

    def forward(self, x):
        return self.net(x)
