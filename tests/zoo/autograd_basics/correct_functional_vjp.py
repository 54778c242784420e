# torch.autograd.functional.vjp does the copying itself: it detaches the inputs before differentiating
from torch.autograd.functional import vjp


def q_function(a, b):
    Q = 3*a**3 - b**2
    return Q


def q_gradients(a, b, external_grad):
    Q, (a_grad, b_grad) = vjp(q_function, (a, b), v=external_grad)
    return a_grad, b_grad
