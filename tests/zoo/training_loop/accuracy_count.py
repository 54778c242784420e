# Returns the number of correct predictions (an int), not the fraction.
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
    with torch.no_grad():
        predicted = model(inputs).argmax(1)
    correct = (predicted == labels).sum().item()
    return correct
