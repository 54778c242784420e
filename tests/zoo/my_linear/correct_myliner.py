import torch
import torch.nn as nn


# class name as written on the course slides
class MyLiner(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super(MyLiner, self).__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weights = nn.Parameter(torch.randn(in_features, out_features))
        if bias:
            self.bias = nn.Parameter(torch.randn(out_features))
        else:
            self.bias = None

    def forward(self, x):
        x = x @ self.weights
        if self.bias is not None:
            x = x + self.bias
        return x


if __name__ == "__main__":
    layer = MyLiner(4, 2)
    print(layer(torch.randn(3, 4)).shape)
