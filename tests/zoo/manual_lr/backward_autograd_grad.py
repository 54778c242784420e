import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LR(nn.Module):
    def __init__(self, dim, lr=torch.scalar_tensor(0.01)):
        super(LR, self).__init__()
        self.w = torch.zeros(dim, 1, dtype=torch.float).to(device)
        self.b = torch.scalar_tensor(0).to(device)
        self.grads = {"dw": torch.zeros(dim, 1, dtype=torch.float).to(device),
                      "db": torch.scalar_tensor(0).to(device)}
        self.lr = lr.to(device)

    def forward(self, x):
        z = torch.mm(self.w.T, x) + self.b
        a = self.sigmoid(z)
        return a

    def sigmoid(self, z):
        return 1 / (1 + torch.exp(-z))

    def backward(self, x, yhat, y):
        # recompute the loss on copies of w and b and let autograd find the gradients
        with torch.enable_grad():
            w = self.w.detach().clone().requires_grad_(True)
            b = self.b.detach().clone().requires_grad_(True)
            a = self.sigmoid(torch.mm(w.T, x) + b)
            loss = torch.nn.functional.binary_cross_entropy(a, y)
            dw, db = torch.autograd.grad(loss, [w, b])
        self.grads["dw"] = dw
        self.grads["db"] = db

    def optimize(self):
        self.w = self.w - self.lr * self.grads["dw"]
        self.b = self.b - self.lr * self.grads["db"]
