# Form mistake: never calls super().__init__; keeps its own list of parameters and velocities.
import torch


class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        self.params = list(params)
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.velocities = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            for p, v in zip(self.params, self.velocities):
                if p.grad is None:
                    continue
                d_p = p.grad + self.weight_decay * p
                if self.momentum != 0:
                    v.mul_(self.momentum).add_(d_p)
                    d_p = v
                p -= self.lr * d_p
        return loss
