# torch.autograd.grad with grad_outputs instead of Q.backward(): the same vector-Jacobian product, no .grad involved
import torch


def q_function(a, b):
    return 3 * torch.pow(a, 3) - torch.pow(b, 2)


def q_gradients(a, b, external_grad):
    a2 = a.detach().clone().requires_grad_(True)
    b2 = b.detach().clone().requires_grad_(True)
    Q = q_function(a2, b2)
    a_grad, b_grad = torch.autograd.grad(Q, (a2, b2), grad_outputs=external_grad)
    return a_grad, b_grad
