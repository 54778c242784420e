# optimizer.step() before loss.backward(): every step finds the gradient just cleared by zero_grad().
import torch


def train(model, inputs, labels, criterion, optimizer, epochs):
    losses = []
    for epoch in range(epochs):
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        optimizer.step()
        loss.backward()
        losses.append(loss.item())
    return losses


def evaluate(model, inputs, labels):
    model.eval()
    with torch.no_grad():
        predictions = torch.argmax(model(inputs), dim=1)
    return (predictions == labels).float().mean().item()
