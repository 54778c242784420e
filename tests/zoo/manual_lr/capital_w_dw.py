# the neural-network notation: W and dW (b and db unchanged), used consistently
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LR(nn.Module):
    def __init__(self, dim, lr=torch.scalar_tensor(0.01)):
        super().__init__()
        self.W = torch.zeros((dim, 1), device=device)
        self.b = torch.tensor(0.0, device=device)
        self.grads = {"dW": torch.zeros((dim, 1), device=device), "db": torch.tensor(0.0, device=device)}
        self.lr = lr.to(device)

    def forward(self, X):
        return self.sigmoid(self.W.T @ X + self.b)

    def sigmoid(self, Z):
        return 1 / (1 + torch.exp(-Z))

    def backward(self, X, A, Y):
        m = X.shape[1]
        dZ = A - Y
        self.grads["dW"] = X @ dZ.T / m
        self.grads["db"] = dZ.sum() / m

    def optimize(self):
        self.W = self.W - self.lr * self.grads["dW"]
        self.b = self.b - self.lr * self.grads["db"]
