# Form mistake: a plain class, not a torch.optim.Optimizer; its steps are SGD's, with a state dict of its own.
import torch


class MySGD:
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buffers = {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d_p = p.grad + self.weight_decay * p
            if self.momentum:
                if i in self.buffers:
                    self.buffers[i] = self.momentum * self.buffers[i] + d_p
                else:
                    self.buffers[i] = d_p.clone()
                d_p = self.buffers[i]
            p -= self.lr * d_p
        return loss
