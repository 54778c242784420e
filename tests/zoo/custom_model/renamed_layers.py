# the layers are registered with the right sizes, but named c1 and c2 instead of conv1 and conv2
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 20, 5)
        self.c2 = nn.Conv2d(20, 20, 5)

    def forward(self, x):
        x = F.relu(self.c1(x))
        return F.relu(self.c2(x))
