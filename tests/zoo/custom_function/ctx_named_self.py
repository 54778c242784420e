# ctx named `self` in forward and `context` in backward: torch passes it by position, so the name is free
import torch


class LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(self, input, weight, bias=None):
        self.save_for_backward(input, weight, bias)
        output = torch.matmul(input, weight.transpose(0, 1))
        if bias is not None:
            output += bias
        return output

    @staticmethod
    def backward(context, grad_output):
        input, weight, bias = context.saved_tensors
        grad_bias = grad_output.sum(dim=0) if bias is not None else None
        return grad_output @ weight, grad_output.transpose(0, 1) @ input, grad_bias
