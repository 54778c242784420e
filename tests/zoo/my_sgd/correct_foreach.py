# Correct: one group at a time with the torch._foreach_* kernels, out-of-place buffers stored back in self.state.
import torch
from torch.optim import Optimizer


class MySGD(Optimizer):
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
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            if group["weight_decay"] != 0:
                grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
            if group["momentum"] != 0:
                steps = []
                for p, g in zip(params, grads):
                    buf = self.state[p].get("momentum_buffer")
                    buf = g.clone() if buf is None else buf * group["momentum"] + g
                    self.state[p]["momentum_buffer"] = buf
                    steps.append(buf)
                grads = steps
            torch._foreach_add_(params, grads, alpha=-group["lr"])
        return loss
