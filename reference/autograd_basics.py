"""Autograd basics: a differentiable function and the gradients that Q.backward(gradient=...) leaves behind."""

import torch


def q_function(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Q = 3 a^3 - b^2, elementwise, built from differentiable torch operations."""
    # BEGIN SOLUTION
    return 3 * a**3 - b**2
    # END SOLUTION


def q_gradients(a: torch.Tensor, b: torch.Tensor, external_grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradients ``Q.backward(gradient=external_grad)`` leaves in ``a.grad`` and ``b.grad``.

    They are computed on leaf copies of ``a`` and ``b``: the caller's tensors are left as they were.
    """
    # BEGIN SOLUTION
    a = a.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    Q = q_function(a, b)
    Q.backward(gradient=external_grad)
    return a.grad, b.grad
    # END SOLUTION
