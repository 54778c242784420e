# Mistake: the momentum buffer is a local variable made fresh at every step, so momentum does nothing.
import torch


class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay)
        super().__init__(params, defaults)

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
                buf = torch.zeros_like(p)
                buf = group["momentum"] * buf + d_p
                p -= group["lr"] * buf
        return loss
