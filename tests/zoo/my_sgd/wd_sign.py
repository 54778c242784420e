# Mistake: weight decay subtracted from the gradient (wrong sign): it pushes the weights away from zero.
import torch


class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

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
                d_p = p.grad - group["weight_decay"] * p
                if group["momentum"] != 0:
                    state = self.state[p]
                    if "momentum_buffer" in state:
                        state["momentum_buffer"] = group["momentum"] * state["momentum_buffer"] + d_p
                    else:
                        state["momentum_buffer"] = d_p.clone()
                    d_p = state["momentum_buffer"]
                p.sub_(group["lr"] * d_p)
        return loss
