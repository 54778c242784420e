# einsum everywhere, no needs_input_grad, and the bias gradient left out of the tuple's None handling by a
# conditional expression: all valid
import torch
from torch.autograd import Function


class LinearFunction(Function):
    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        out = torch.einsum("ni,oi->no", input, weight)
        return out if bias is None else out + bias

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = torch.einsum("no,oi->ni", grad_output, weight)
        grad_weight = torch.einsum("no,ni->oi", grad_output, input)
        grad_bias = None if bias is None else torch.einsum("no->o", grad_output)
        return grad_input, grad_weight, grad_bias
