# Correct: the buffer starts at zeros (so buf = momentum * 0 + d_p at the first step), torch.no_grad()
# inside the loop instead of a decorator, p.add_(..., alpha=-lr), and the hyper-parameters as a dict literal.
import torch


class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        super(MySGD, self).__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                with torch.no_grad():
                    d_p = p.grad.clone()
                    if group["weight_decay"]:
                        d_p.add_(p, alpha=group["weight_decay"])
                    if group["momentum"]:
                        state = self.state[p]
                        if "momentum_buffer" not in state:
                            state["momentum_buffer"] = torch.zeros_like(p)
                        buf = state["momentum_buffer"]
                        buf.mul_(group["momentum"]).add_(d_p)
                        d_p = buf
                    p.add_(d_p, alpha=-group["lr"])
        return loss
