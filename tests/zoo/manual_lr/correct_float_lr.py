import torch
from torch import nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class LR(nn.Module):
    # lr may be a plain float (LR(dim, lr=0.1)) or a tensor: both end up as a float32 tensor on device
    def __init__(self, dim, lr=0.01):
        super().__init__()
        self.w = torch.zeros(dim, 1, device=device)
        self.b = torch.zeros((), device=device)
        self.grads = {"dw": torch.zeros(dim, 1, device=device), "db": torch.zeros((), device=device)}
        self.lr = torch.as_tensor(lr, dtype=torch.float32, device=device)

    def forward(self, x):
        return self.sigmoid(self.w.T @ x + self.b)

    def sigmoid(self, z):
        return 1.0 / (1.0 + torch.exp(-z))

    def backward(self, x, yhat, y):
        m = x.shape[1]
        self.grads["dw"] = 1 / m * (x @ (yhat - y).T)
        self.grads["db"] = 1 / m * (yhat - y).sum()

    def optimize(self):
        self.w = self.w - self.lr * self.grads["dw"]
        self.b = self.b - self.lr * self.grads["db"]


if __name__ == "__main__":
    model = LR(2, lr=0.5)
    x = torch.randn(2, 100, device=device)
    y = (x[0:1] + x[1:2] > 0).float()
    for epoch in range(100):
        yhat = model.forward(x)
        model.backward(x, yhat, y)
        model.optimize()
    print("accuracy", ((model.forward(x) > 0.5).float() == y).float().mean().item())
