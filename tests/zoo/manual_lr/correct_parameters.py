"""w and b as nn.Parameter (as in MyLinear), updated in place under torch.no_grad()."""
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LR(nn.Module):
    def __init__(self, dim, lr=torch.scalar_tensor(0.01)):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(dim, 1, device=device))
        self.b = nn.Parameter(torch.scalar_tensor(0, device=device))
        self.grads = {"dw": torch.zeros(dim, 1, device=device), "db": torch.scalar_tensor(0, device=device)}
        self.lr = lr.to(device)

    def forward(self, x):
        return self.sigmoid(self.w.T @ x + self.b)

    def sigmoid(self, z):
        return 1 / (1 + torch.exp(-z))

    def backward(self, x, yhat, y):
        m = x.shape[1]
        with torch.no_grad():
            self.grads["dw"] = x @ (yhat - y).T / m
            self.grads["db"] = (yhat - y).sum() / m

    def optimize(self):
        with torch.no_grad():
            self.w -= self.lr * self.grads["dw"]
            self.b -= self.lr * self.grads["db"]
