# one backward() per gradient: the first Q.backward() frees the graph, the second raises
import torch


def q_function(a, b):
    return 3*a**3 - b**2


def q_gradients(a, b, external_grad):
    a = a.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    Q = q_function(a, b)
    Q.backward(gradient=external_grad)
    a_grad = a.grad
    Q.backward(gradient=external_grad)
    b_grad = b.grad
    return a_grad, b_grad
