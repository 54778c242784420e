# The forward pass is done once, before the loop: the second backward() has no graph to go through.
import torch


def train(model, inputs, labels, criterion, optimizer, epochs):
    losses = []
    outputs = model(inputs)
    loss = criterion(outputs, labels)
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model, inputs, labels):
    model.eval()
    with torch.no_grad():
        predictions = torch.argmax(model(inputs), dim=1)
    return (predictions == labels).float().mean().item()
