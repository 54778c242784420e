# keeps the tensors as ctx attributes instead of save_for_backward, uses F.linear in forward, and returns
# only as many gradients as forward had inputs
import torch
import torch.nn.functional as F


class LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.input = input
        ctx.weight = weight
        ctx.has_bias = bias is not None
        return F.linear(input, weight, bias)

    @staticmethod
    def backward(ctx, grad_output):
        grad_input = torch.matmul(grad_output, ctx.weight)
        grad_weight = torch.matmul(grad_output.transpose(0, 1), ctx.input)
        if ctx.has_bias:
            return grad_input, grad_weight, grad_output.sum(dim=0)
        return grad_input, grad_weight


linear = LinearFunction.apply
