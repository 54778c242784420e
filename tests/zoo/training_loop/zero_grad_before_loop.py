# optimizer.zero_grad() once, before the loop: from the second epoch on the gradients add up.
import torch


def train(model, inputs, labels, criterion, optimizer, epochs):
    losses = []
    optimizer.zero_grad()
    for epoch in range(epochs):
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model, inputs, labels):
    model.eval()
    with torch.no_grad():
        predictions = torch.argmax(model(inputs), dim=1)
    return (predictions == labels).float().mean().item()
