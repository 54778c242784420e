# nn.ReLU modules as attributes (extra registered children), super(Model, self) style
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super(Model, self).__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=20, kernel_size=5)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels=20, out_channels=20, kernel_size=(5, 5))
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu1(self.conv1(x))
        out = self.relu2(self.conv2(out))
        return out


if __name__ == "__main__":
    model = Model()
    print(model)
    print(sum(p.numel() for p in model.parameters()))
    print(model(torch.randn(1, 1, 28, 28)).shape)
