"""An inline search space: placeholders in ordinary PyTorch code, then a search over it.

Run: python examples/inline_space.py
"""

import random

import torch
from torch import nn

from archsearch.space import Choice, Int, Space, materialize, symbolic


@symbolic
def make_net(width=Choice([8, 16, 32]), depth=Int(1, 3), act=Choice(["relu", "gelu"])):
    """An ordinary model-building function; its defaults are the search space."""
    layers, channels = [], 1
    for _ in range(depth):
        layers += [
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU() if act == "relu" else nn.GELU(),
        ]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))


hyper = make_net()
space = Space(hyper)
print(f"{space.size} configs")
rng = random.Random(0)
for _ in range(3):
    config = space.sample(rng)
    model = materialize(hyper, config)
    n_params = sum(p.numel() for p in model.parameters())
    out = model(torch.zeros(2, 1, 28, 28))
    print(config, f"{n_params:,} parameters, output {tuple(out.shape)}")
