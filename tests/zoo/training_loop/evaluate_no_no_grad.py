# evaluate forgets torch.no_grad(): the forward pass records a graph, detached only afterwards.
import torch


def train(model, inputs, labels, criterion, optimizer, epochs):
    losses = []
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model, inputs, labels):
    model.eval()
    outputs = model(inputs).detach()
    predictions = torch.argmax(outputs, dim=1)
    return (predictions == labels).float().mean().item()
