# running_loss += loss.item(), then losses.append(running_loss): the list holds the running total, not each loss.
import torch


def train(model, inputs, labels, criterion, optimizer, epochs):
    losses = []
    running_loss = 0.0
    for epoch in range(epochs):
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        losses.append(running_loss)
    return losses


def evaluate(model, inputs, labels):
    model.eval()
    with torch.no_grad():
        predictions = torch.argmax(model(inputs), dim=1)
    return (predictions == labels).float().mean().item()
