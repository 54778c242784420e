# zero_grad once before the loop and again at the end of every iteration, after step(); evaluate under
# torch.inference_mode() and counts by hand. Both are correct.
import torch


def train(model, inputs, labels, criterion, optimizer, epochs):
    model.train()
    history = []
    optimizer.zero_grad()
    for epoch in range(epochs):
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        history.append(loss.item())
    return history


def evaluate(model, inputs, labels):
    model.eval()
    with torch.inference_mode():
        outputs = model(inputs)
        _, predicted = torch.max(outputs, 1)
        correct = (predicted == labels).sum().item()
    total = labels.size(0)
    return correct / total
