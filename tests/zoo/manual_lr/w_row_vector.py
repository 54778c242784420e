# w stored as a row (1, dim), with forward, backward and optimize consistent with it: w @ x
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LR(nn.Module):
    def __init__(self, dim, lr=torch.scalar_tensor(0.01)):
        super().__init__()
        self.w = torch.zeros(1, dim, device=device)
        self.b = torch.scalar_tensor(0, device=device)
        self.grads = {"dw": torch.zeros(1, dim, device=device), "db": torch.scalar_tensor(0, device=device)}
        self.lr = lr.to(device)

    def forward(self, x):
        return self.sigmoid(self.w @ x + self.b)

    def sigmoid(self, z):
        return 1 / (1 + torch.exp(-z))

    def backward(self, x, yhat, y):
        m = x.shape[1]
        self.grads["dw"] = (yhat - y) @ x.T / m
        self.grads["db"] = torch.sum(yhat - y) / m

    def optimize(self):
        self.w = self.w - self.lr * self.grads["dw"]
        self.b = self.b - self.lr * self.grads["db"]
