# Q multiplied by external_grad and then backward(gradient=external_grad): the weights count twice
import torch


def q_function(a, b):
    return 3*a**3 - b**2


def q_gradients(a, b, external_grad):
    a = a.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    Q = q_function(a, b) * external_grad
    Q.backward(gradient=external_grad)
    return a.grad, b.grad
