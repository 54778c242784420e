# grad_bias = grad_output.sum(0, keepdim=True): shape (1, out_features), which autograd sums to (out_features,)
import torch


class LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output = output + bias
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_output.mm(weight)
        grad_weight = grad_output.t().mm(input)
        grad_bias = None
        if bias is not None:
            grad_bias = grad_output.sum(0, keepdim=True)
        return grad_input, grad_weight, grad_bias
