"""LinearFunction: a linear map with a hand-written backward, as a torch.autograd.Function."""

import torch


class LinearFunction(torch.autograd.Function):
    """``input @ weight.T + bias`` with ``weight`` of shape ``(out_features, in_features)``."""

    @staticmethod
    def forward(ctx, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        # TODO: write this part.
        raise NotImplementedError("write this part")

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        # TODO: write this part.
        raise NotImplementedError("write this part")
