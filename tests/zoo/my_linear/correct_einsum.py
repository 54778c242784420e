import torch
import torch.nn as nn


class MyLinear(nn.Module):
    """My own linear layer: y = x W + b"""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        k = 1 / in_features
        self.weights = nn.Parameter(torch.rand(in_features, out_features) * 2 * k**0.5 - k**0.5)
        self.bias = nn.Parameter(torch.rand(out_features) * 2 * k**0.5 - k**0.5) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # "...i,io->...o" keeps all the batch dimensions of x
        y = torch.einsum("...i,io->...o", x, self.weights)
        if self.bias is None:
            return y
        return y + self.bias


# quick test
m = MyLinear(3, 2)
print(m(torch.ones(4, 3)).shape)
print([name for name, _ in m.named_parameters()])
