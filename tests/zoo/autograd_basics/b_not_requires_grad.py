# only a's copy requires grad: autograd never computes b's gradient, b.grad stays None
import torch


def q_function(a, b):
    return 3*a**3 - b**2


def q_gradients(a, b, external_grad):
    a = a.detach().clone().requires_grad_(True)
    b = b.detach().clone()
    Q = q_function(a, b)
    Q.backward(gradient=external_grad)
    return a.grad, b.grad
