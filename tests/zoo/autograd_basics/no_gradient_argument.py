# Q.backward() without gradient=: torch refuses for a vector Q
import torch


def q_function(a, b):
    return 3*a**3 - b**2


def q_gradients(a, b, external_grad):
    a = a.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    Q = q_function(a, b)
    Q.backward()
    return a.grad, b.grad
