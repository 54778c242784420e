# Q = 3a^2 - b^2: the wrong power of a, so every gradient of a is 6a instead of 9a^2
import torch


def q_function(a, b):
    return 3*a**2 - b**2


def q_gradients(a, b, external_grad):
    a = a.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    Q = q_function(a, b)
    Q.backward(gradient=external_grad)
    return a.grad, b.grad
