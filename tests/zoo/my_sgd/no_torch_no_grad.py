# Mistake: step() is not under torch.no_grad(): the in-place update of a leaf that requires grad raises.
import torch


class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad + group["weight_decay"] * p.detach()
                if group["momentum"] != 0:
                    buf = self.state[p].get("momentum_buffer")
                    buf = d_p.clone() if buf is None else group["momentum"] * buf + d_p
                    self.state[p]["momentum_buffer"] = buf
                    d_p = buf
                p -= group["lr"] * d_p
        return loss
