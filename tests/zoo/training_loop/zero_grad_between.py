# zero_grad() between backward() and step(): the gradient is thrown away before the step can use it.
import torch


def train(model, inputs, labels, criterion, optimizer, epochs):
    losses = []
    for epoch in range(epochs):
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model, inputs, labels):
    model.eval()
    with torch.no_grad():
        predictions = torch.argmax(model(inputs), dim=1)
    return (predictions == labels).float().mean().item()
