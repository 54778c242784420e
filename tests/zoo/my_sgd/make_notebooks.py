"""Regenerate the notebook submissions of the my_sgd zoo: `python tests/zoo/my_sgd/make_notebooks.py`."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

IMPORTS = """import torch
import torch.nn as nn"""

CHECK_AGAINST_TORCH = """torch.manual_seed(0)
model = nn.Linear(3, 1)
reference = nn.Linear(3, 1)
reference.load_state_dict(model.state_dict())
x, y = torch.randn(64, 3), torch.randn(64, 1)
mine = MySGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
theirs = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
losses = []
for epoch in range(20):
    for net, opt in ((model, mine), (reference, theirs)):
        opt.zero_grad()
        loss = nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
    losses.append(loss.item())
print(torch.allclose(model.weight, reference.weight))"""

def notebook(*cells):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = list(cells)
    return nb


def write(name, nb):
    nbformat.validate(nb)
    nbformat.write(nb, HERE / name)


# Correct, in the style of older course notes: no @torch.no_grad(), every update through .data.
write("correct_notebook_data.ipynb", notebook(
    new_markdown_cell("# Writing SGD by hand"),
    new_code_cell(IMPORTS),
    new_code_cell('''class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay)
        super(MySGD, self).__init__(params, defaults)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            loss = closure()
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is None:
                    continue
                d_p = p.grad.data
                if group['weight_decay'] != 0:
                    d_p = d_p + group['weight_decay'] * p.data
                if group['momentum'] != 0:
                    param_state = self.state[p]
                    if 'momentum_buffer' not in param_state:
                        buf = param_state['momentum_buffer'] = torch.clone(d_p).detach()
                    else:
                        buf = param_state['momentum_buffer']
                        buf.mul_(group['momentum']).add_(d_p)
                    d_p = buf
                p.data.add_(d_p, alpha=-group['lr'])
        return loss'''),
    new_markdown_cell("Compare with `torch.optim.SGD`:"),
    new_code_cell(CHECK_AGAINST_TORCH),
))

# Mistake: weight decay taken as the gradient of weight_decay * ||p||^2, i.e. 2 * weight_decay * p.
write("wd_twice_notebook.ipynb", notebook(
    new_markdown_cell("# SGD with L2 regularisation\n\nThe penalty is `weight_decay * ||p||^2`, "
                      "so its gradient is `2 * weight_decay * p`."),
    new_code_cell(IMPORTS),
    new_code_cell('''class MySGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad + 2 * group["weight_decay"] * p  # d/dp of wd * ||p||^2
                if group["momentum"]:
                    state = self.state[p]
                    if "momentum_buffer" in state:
                        state["momentum_buffer"].mul_(group["momentum"]).add_(grad)
                    else:
                        state["momentum_buffer"] = grad.clone()
                    grad = state["momentum_buffer"]
                p.sub_(group["lr"] * grad)
        return loss'''),
    new_code_cell(CHECK_AGAINST_TORCH),
))
