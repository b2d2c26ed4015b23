"""An inline search space: placeholders in ordinary PyTorch code, then a search over it.

``make_net`` is an ordinary model-building function whose default arguments are the
search space. The objective builds it for each trial with ``trial.build`` (its
decisions stored under ``net``), draws a learning rate, trains two epochs on 2,000
Fashion-MNIST images and returns the validation accuracy. The same objective works with
the space given explicitly: ``space={"net": make_net(), "lr": Real(...)}``.

Run: python examples/inline_space.py
"""

import functools

import torch
import torch.nn.functional as F
from torch import nn

import archsearch
from archsearch import Choice, Int, symbolic
from archsearch.data import get_dataset


@symbolic
def make_net(width=Choice([8, 16, 32]), depth=Int(1, 3), act=Choice(["relu", "gelu"])):
    """An ordinary model-building function; its defaults are the search space."""
    layers, channels = [], 1
    for _ in range(depth):
        layers += [
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU() if act == "relu" else nn.GELU(),
            nn.MaxPool2d(2),
        ]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))


@functools.cache
def data():
    return get_dataset("fashion_mnist", subset=2000)


def objective(trial):
    model = trial.build("net", make_net())
    lr = trial.real("lr", 1e-3, 0.3, log=True)
    torch.manual_seed(trial.number)
    d = data()
    x, y = d.train_x.float() / 255, d.train_y
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(2):  # epochs
        for batch in torch.randperm(len(y)).split(32):
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    with torch.no_grad():
        predicted = model(d.valid_x.float() / 255).argmax(1)
    return (predicted == d.valid_y).float().mean().item() * 100


if __name__ == "__main__":
    print(archsearch.trace_space(objective).to_json()["root"])
    result = archsearch.search(objective, strategy="rea", budget=10, storage="memory://")
    print(result.trials)
    print(f"best {result.best_value:.1f} % with {result.best_config}")
