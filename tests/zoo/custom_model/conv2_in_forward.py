# conv2 is created inside forward: new random weights at every call, never registered
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        conv2 = nn.Conv2d(20, 20, 5)
        return F.relu(conv2(x))
