# epoch = 0; while epoch <= epochs: the loop runs one epoch too many (6 for epochs=5).
import torch


def train(model, inputs, labels, criterion, optimizer, epochs):
    losses = []
    epoch = 0
    while epoch <= epochs:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        epoch += 1
    return losses


def evaluate(model, inputs, labels):
    model.eval()
    with torch.no_grad():
        predictions = torch.argmax(model(inputs), dim=1)
    return (predictions == labels).float().mean().item()
