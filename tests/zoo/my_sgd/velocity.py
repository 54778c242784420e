# Mistake: the lr inside the velocity (v = m * v + lr * g; p -= v): same as SGD until the lr changes.
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
                g = p.grad + group["weight_decay"] * p
                state = self.state[p]
                v = state.get("momentum_buffer", torch.zeros_like(p))
                v = group["momentum"] * v + group["lr"] * g
                state["momentum_buffer"] = v
                p -= v
        return loss
