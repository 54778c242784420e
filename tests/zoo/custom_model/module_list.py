# registered, but in an nn.ModuleList: there are no attributes conv1 and conv2
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Conv2d(1, 20, 5), nn.Conv2d(20, 20, 5)])

    def forward(self, x):
        for layer in self.layers:
            x = F.relu(layer(x))
        return x
