"""Logistic regression with hand-written gradients (matmul style)."""
import torch
from torch import nn

device = "cuda" if torch.cuda.is_available() else "cpu"


class LR(nn.Module):
    def __init__(self, dim, lr=torch.scalar_tensor(0.01)):
        super().__init__()
        self.w = torch.zeros((dim, 1), device=device)
        self.b = torch.tensor(0.0, device=device)
        self.grads = {"dw": torch.zeros_like(self.w), "db": torch.zeros_like(self.b)}
        self.lr = lr.to(device)

    def sigmoid(self, z):
        return torch.reciprocal(1.0 + torch.exp(-z))

    def forward(self, x):
        return self.sigmoid(torch.matmul(self.w.T, x) + self.b)

    def backward(self, x, yhat, y):
        m = x.shape[-1]
        err = yhat - y
        self.grads["dw"] = x @ err.T / m
        self.grads["db"] = err.sum() / m

    def optimize(self):
        self.w -= self.lr * self.grads["dw"]
        self.b -= self.lr * self.grads["db"]
