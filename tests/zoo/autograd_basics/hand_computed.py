# the derivatives written by hand: right values, but no autograd at all
import torch


def q_function(a, b):
    return 3*a**3 - b**2


def q_gradients(a, b, external_grad):
    a_grad = 9 * a**2 * external_grad
    b_grad = -2 * b * external_grad
    return a_grad, b_grad
