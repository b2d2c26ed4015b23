"""Search your own model: a CNN on Fashion-MNIST, your training loop, ASHA over epochs.

The objective draws its architecture (depth, width, kernel, pooling) and recipe
(learning rate, batch size, weight decay), trains for ``trial.fidelity`` epochs from
its own checkpoint, and reports the validation accuracy after every epoch. ASHA starts
many configs at 1 epoch and promotes the best to 3 and 9; a promoted config resumes
from its checkpoint. Two worker processes train at once; every trial is stored in
``archsearch.db``, and running the script again continues the search.

Run: python examples/search_your_own_model.py
"""

import functools

import torch
import torch.nn.functional as F
from torch import nn

import archsearch
from archsearch.data import get_dataset


@functools.cache
def data():
    return get_dataset("fashion_mnist", subset=2000)  # 2,000 train / valid / test images


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item() * 100


def objective(trial):
    depth = trial.int("depth", 1, 3)
    width = trial.choice("width", [8, 16, 32])
    kernel = trial.choice("kernel", [3, 5])
    pool = trial.choice("pool", ["max", "avg"])
    lr = trial.real("lr", 1e-3, 0.3, log=True)
    batch_size = trial.choice("batch_size", [32, 64, 128])
    weight_decay = trial.real("weight_decay", 1e-6, 1e-2, log=True)

    torch.set_num_threads(1)  # one core per worker process
    torch.manual_seed(trial.number)
    layers, channels = [], 1
    for _ in range(depth):
        layers += [nn.Conv2d(channels, width, kernel, padding=kernel // 2), nn.ReLU()]
        layers += [nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2)]
        channels = width
    model = nn.Sequential(*layers, nn.Flatten(), nn.LazyLinear(10))
    model(torch.zeros(1, 1, 28, 28))  # sizes the last layer
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    state, epoch, score = trial.load_checkpoint(), 0, 0.0
    if state is not None:  # promoted: go on from where the last rung stopped
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch, score = state["epoch"], state["accuracy"]

    d = data()
    x, y = d.train_x.float() / 255, d.train_y
    while epoch < trial.fidelity:
        model.train()
        for batch in torch.randperm(len(y)).split(batch_size):
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
        epoch += 1
        score = accuracy(model, d.valid_x.float() / 255, d.valid_y)
        trial.report(score, epoch)
    trial.save_checkpoint(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": epoch,
            "accuracy": score,
        }
    )
    return {"valid_accuracy": score, "params": sum(p.numel() for p in model.parameters())}


if __name__ == "__main__":
    result = archsearch.search(
        objective,
        strategy="asha",
        fidelity=9,  # epochs; ASHA's rungs are 1, 3 and 9
        metric="valid_accuracy",
        budget=30,  # trials (each rung counts one)
        workers=2,
        name="fashion-cnn",
    )
    print(result.trials)
    print(f"best: {result.best_value:.2f} % with {result.best_config}")
