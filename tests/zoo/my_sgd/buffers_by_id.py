# Mistake: momentum buffers kept in a dict of our own keyed by id(p): state_dict() does not save them.
import torch


class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay)
        super().__init__(params, defaults)
        self.buffers = {}

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad + group["weight_decay"] * p
                if group["momentum"] != 0:
                    if id(p) not in self.buffers:
                        self.buffers[id(p)] = d_p.clone()
                    else:
                        self.buffers[id(p)] = group["momentum"] * self.buffers[id(p)] + d_p
                    d_p = self.buffers[id(p)]
                p -= group["lr"] * d_p
        return loss
