# the gradients keyed by the parameter they belong to: grads["w"], grads["b"]
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LR(nn.Module):
    def __init__(self, dim, lr=torch.scalar_tensor(0.01)):
        super(LR, self).__init__()
        self.w = torch.zeros(dim, 1, dtype=torch.float32, device=device)
        self.b = torch.scalar_tensor(0, device=device)
        self.grads = {"w": torch.zeros(dim, 1, dtype=torch.float32, device=device),
                      "b": torch.scalar_tensor(0, device=device)}
        self.lr = lr.to(device)

    def forward(self, x):
        return self.sigmoid(torch.mm(self.w.T, x) + self.b)

    def sigmoid(self, z):
        return 1 / (1 + torch.exp(-z))

    def backward(self, x, yhat, y):
        m = x.shape[1]
        self.grads["w"] = (1 / m) * torch.mm(x, (yhat - y).T)
        self.grads["b"] = (1 / m) * torch.sum(yhat - y)

    def optimize(self):
        self.w = self.w - self.lr * self.grads["w"]
        self.b = self.b - self.lr * self.grads["b"]
