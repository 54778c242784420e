import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LR(nn.Module):
    # the learning rate is kept as a plain Python number: lr * tensor works just the same
    def __init__(self, dim, lr=0.01):
        super().__init__()
        self.w = torch.zeros(dim, 1, device=device)
        self.b = torch.scalar_tensor(0, device=device)
        self.grads = {"dw": torch.zeros(dim, 1, device=device), "db": torch.scalar_tensor(0, device=device)}
        self.lr = float(lr)

    def forward(self, x):
        return self.sigmoid(self.w.T @ x + self.b)

    def sigmoid(self, z):
        return 1 / (1 + torch.exp(-z))

    def backward(self, x, yhat, y):
        m = x.shape[1]
        self.grads["dw"] = (1 / m) * torch.mm(x, (yhat - y).T)
        self.grads["db"] = (1 / m) * torch.sum(yhat - y)

    def optimize(self):
        self.w = self.w - self.lr * self.grads["dw"]
        self.b = self.b - self.lr * self.grads["db"]
