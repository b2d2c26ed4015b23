"""Training throughput: archsearch's trainer against a plain PyTorch loop, alone and K at once.

Usage:
    python benchmarks/train_speed.py                      # the full run (meant for a GPU)
    python benchmarks/train_speed.py --epochs 1 --images 2000 --candidates 2   # quick check

Every candidate is the largest NAS-Bench-201 network (every edge nor_conv_3x3, C=16,
N=5) trained on random 32x32x3 images (``--images`` per candidate, 10 classes) for
``--epochs`` epochs with the NB201 recipe (SGD, Nesterov, lr 0.1, batch 256, cosine),
validating on ``--valid`` images after every epoch. Modes, all in the same run:

- ``plain``: one model, a plain loop: DataLoader over a TensorDataset (per-image crop
  and flip in the collate function when ``--augment``), fp32, host-to-device copy per batch.
- ``single``: one model, archsearch's Trainer (data on the device, batched
  augmentation, bf16 autocast and channels-last on CUDA).
- ``streams``: K models, one Trainer.fit_many call (one CUDA stream each, steps
  interleaved from one process).
- ``processes``: K processes, each running archsearch's Trainer on one model.
- ``naive``: K processes, each running the plain loop (the naive concurrent baseline).

Throughput is images trained per second of wall time over whole trainings: process
start-up, data creation, model building, compilation and validation all count (one
step of a small network runs first, untimed, so that the first mode does not pay for
torch's own start-up in this process).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from archsearch.data import Dataset
from archsearch.training import Recipe, Trainer, seeded_build

MODES = ("plain", "single", "streams", "processes", "naive")
LARGEST_CELL = {
    edge: "nor_conv_3x3"
    for edge in ("edge_0_1", "edge_0_2", "edge_1_2", "edge_0_3", "edge_1_3", "edge_2_3")
}


# -- the model ------------------------------------------------------------------------
class _StandInCell(nn.Module):
    """NB201's cell with nor_conv_3x3 on every edge (used when archsearch.models is absent)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
            for _ in range(6)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n1 = self.ops[0](x)
        n2 = self.ops[1](x) + self.ops[2](n1)
        return self.ops[3](x) + self.ops[4](n1) + self.ops[5](n2)


def _stand_in(channels: int, n_cells: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1, bias=False)]
    layers.append(nn.BatchNorm2d(channels))
    c = channels
    for stage in range(3):
        if stage:
            layers += [nn.ReLU(), nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=False)]
            layers.append(nn.BatchNorm2d(2 * c))
            c *= 2
        layers += [_StandInCell(c) for _ in range(n_cells)]
    layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers, nn.Linear(c, 10))


def build_largest(channels: int, n_cells: int) -> nn.Module:
    """The all-nor_conv_3x3 NB201 network, from archsearch.models when it is there."""
    try:
        from archsearch.models.nb201 import nb201_model
    except ImportError:
        return _stand_in(channels, n_cells)
    model: nn.Module = nb201_model(LARGEST_CELL, channels=channels, n_cells=n_cells)
    return model


def model_source() -> str:
    try:
        import archsearch.models.nb201  # noqa: F401
    except ImportError:
        return "local stand-in (archsearch.models.nb201 not found)"
    return "archsearch.models.nb201"


# -- data -----------------------------------------------------------------------------
def random_data(n: int, n_valid: int, seed: int) -> Dataset:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n + n_valid, 3, 32, 32), generator=gen, dtype=torch.uint8)
    y = torch.randint(0, 10, (n + n_valid,), generator=gen)
    return Dataset("random", x[:n], y[:n], x[n:], y[n:], x[:0], y[:0], num_classes=10)


def _crop_flip_collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
    """Per-image random crop (padding 4) and flip, as torchvision transforms would do."""
    images = []
    for x, _ in batch:
        padded = F.pad(x, (4, 4, 4, 4))
        top, left = (int(v) for v in torch.randint(0, 9, (2,)))
        crop = padded[:, top : top + 32, left : left + 32]
        images.append(crop.flip(-1) if torch.rand(()) < 0.5 else crop)
    return torch.stack(images), torch.stack([y for _, y in batch])


# -- one training ---------------------------------------------------------------------
def plain_training(options: dict[str, Any], seed: int) -> float:
    """The plain loop; returns its wall seconds (model building included)."""
    start = time.perf_counter()
    device = torch.device(options["device"])
    data = random_data(options["images"], options["valid"], seed)
    mean = data.train_x.float().mean((0, 2, 3), keepdim=True) / 255
    std = data.train_x.float().std((0, 2, 3), keepdim=True) / 255

    def normalise(x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255 - mean) / std

    torch.manual_seed(seed)
    model = build_largest(options["channels"], options["cells"]).to(device)
    collate = _crop_flip_collate if options["augment"] else None
    loader = DataLoader(
        TensorDataset(normalise(data.train_x), data.train_y),
        batch_size=options["batch_size"],
        shuffle=True,
        collate_fn=collate,
        num_workers=options["workers"],
    )
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, options["epochs"])
    valid_x = normalise(data.valid_x)
    for _ in range(options["epochs"]):
        model.train()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
        model.eval()
        with torch.no_grad():
            correct = sum(
                int(
                    (
                        model(valid_x[i : i + 1024].to(device)).argmax(1)
                        == data.valid_y[i : i + 1024].to(device)
                    ).sum()
                )
                for i in range(0, len(valid_x), 1024)
            )
        _ = correct / max(len(valid_x), 1)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def _trainer(options: dict[str, Any]) -> Trainer:
    recipe = Recipe(
        batch_size=options["batch_size"], epochs=options["epochs"], augment=options["augment"]
    )
    return Trainer(
        recipe,
        device=options["device"],
        compile=options["compile"],
        cuda_graphs=options["cuda_graphs"],
    )


def archsearch_training(options: dict[str, Any], seed: int, k: int = 1) -> float:
    """``k`` models through archsearch's trainer (fit_many when k > 1); wall seconds."""
    start = time.perf_counter()
    data = random_data(options["images"], options["valid"], seed)
    models = [
        seeded_build(
            lambda _: build_largest(options["channels"], options["cells"]), None, seed + i
        )
        for i in range(k)
    ]
    trainer = _trainer(options)
    results = trainer.fit_many(models, data) if k > 1 else [trainer.fit(models[0], data)]
    for result in results:
        if result.error:
            raise RuntimeError(result.error)
    return time.perf_counter() - start


def _process_main(kind: str, options: dict[str, Any], seed: int, queue: Any) -> None:
    if options["process_threads"]:
        torch.set_num_threads(options["process_threads"])
    run = plain_training if kind == "naive" else archsearch_training
    queue.put(run(options, seed))


def in_processes(kind: str, options: dict[str, Any], k: int) -> float:
    """``k`` trainings in ``k`` fresh processes started together; wall seconds of all."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    start = time.perf_counter()
    workers = [
        context.Process(target=_process_main, args=(kind, options, i, queue)) for i in range(k)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        queue.get()
    for worker in workers:
        worker.join()
        if worker.exitcode:
            raise RuntimeError(f"a {kind} worker exited with status {worker.exitcode}")
    return time.perf_counter() - start


# -- the table ------------------------------------------------------------------------
def warm_up(device: str) -> None:
    """One step of a small conv net, so that the first mode does not pay torch's start-up."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Flatten())
    model.to(device)(torch.randn(8, 3, 32, 32, device=device)).sum().backward()


def measure(mode: str, options: dict[str, Any], k: int) -> tuple[int, float]:
    """``(models trained, wall seconds)`` of one mode."""
    runs: dict[str, Callable[[], float]] = {
        "plain": lambda: plain_training(options, 0),
        "single": lambda: archsearch_training(options, 0),
        "streams": lambda: archsearch_training(options, 0, k),
        "processes": lambda: in_processes("archsearch", options, k),
        "naive": lambda: in_processes("naive", options, k),
    }
    n_models = 1 if mode in ("plain", "single") else k
    return n_models, runs[mode]()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--images", type=int, default=25_000, help="training images per model")
    parser.add_argument("--valid", type=int, default=1_000, help="validation images")
    parser.add_argument("--candidates", type=int, default=4, help="K, models trained at once")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset")
    parser.add_argument("--no-augment", dest="augment", action="store_false")
    parser.add_argument("--compile", action="store_true", help="archsearch: torch.compile")
    parser.add_argument("--cuda-graphs", action="store_true", help="archsearch: CUDA graphs")
    parser.add_argument("--workers", type=int, default=0, help="plain loop: DataLoader workers")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads of every training (default: torch's; on the CPU, cores // K in "
        "each worker process, so that K processes do not oversubscribe the cores)",
    )
    args = parser.parse_args(argv)
    options = {
        key: value for key, value in vars(args).items() if key not in ("modes", "candidates")
    }
    options["process_threads"] = args.threads
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    elif not args.device.startswith("cuda"):
        options["process_threads"] = max(1, (os.cpu_count() or 1) // args.candidates)
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"--modes: unknown {unknown}; allowed: {', '.join(MODES)}")
    _print_header(args, options)
    warm_up(args.device)
    plain_rate = None
    for mode in modes:
        n_models, wall_s = measure(mode, options, args.candidates)
        rate = n_models * args.images * args.epochs / wall_s
        plain_rate = rate if mode == "plain" else plain_rate
        ratio = f"{rate / plain_rate:7.2f}x" if plain_rate else "      -"
        print(f"{mode:<10} {n_models:>6} {wall_s:>10.1f} {rate:>12.0f} {ratio}", flush=True)
    if not args.device.startswith("cuda"):
        print("\nGPU figures pending: this ran on the CPU; run it on a CUDA machine for them.")


def _print_header(args: argparse.Namespace, options: dict[str, Any]) -> None:
    device = args.device
    if device.startswith("cuda"):
        device += f" ({torch.cuda.get_device_name(torch.device(args.device))})"
    print(f"device {device}, torch {torch.__version__}, model {model_source()}")
    print(
        f"NB201 all-nor_conv_3x3 C={args.channels} N={args.cells}; {args.images} images x "
        f"{args.epochs} epochs per model, batch {args.batch_size}, augment {args.augment}, "
        f"compile {args.compile}, cuda graphs {args.cuda_graphs}, K={args.candidates}, "
        f"threads {torch.get_num_threads()} (worker processes: {options['process_threads']})\n"
    )
    print(f"{'mode':<10} {'models':>6} {'wall s':>10} {'images/s':>12} {'vs plain':>8}")


if __name__ == "__main__":
    main(sys.argv[1:])
