# a.clone() without .detach(): when the caller's a requires grad, the copy is not a leaf and the
# gradient lands in the caller's a.grad (and this function returns None)
import torch


def q_function(a, b):
    return 3*a**3 - b**2


def q_gradients(a, b, external_grad):
    a = a.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    Q = q_function(a, b)
    Q.backward(gradient=external_grad)
    return a.grad, b.grad
