"""MySGD: stochastic gradient descent with momentum and weight decay, written as a torch.optim.Optimizer."""

import torch


class MySGD(torch.optim.Optimizer):
    """Follows the same trajectory as ``torch.optim.SGD(params, lr, momentum, weight_decay)``."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        # TODO: write this part.
        raise NotImplementedError("write this part")

    @torch.no_grad()
    def step(self, closure=None):
        """Take one optimisation step; ``closure`` re-evaluates the model and returns the loss."""
        # TODO: write this part.
        raise NotImplementedError("write this part")
