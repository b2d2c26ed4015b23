"""``inherit`` in a user's objective, alone and in a whole ``morph`` search."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import archsearch
from archsearch.api import Trial
from archsearch.errors import ConfigError
from archsearch.models import build_model
from archsearch.morphism import inherit
from archsearch.spaces import cnn_space

A = {
    "stages": [{"n_layers": 1, "width": 8, "kernel": 3}, {"n_layers": 1, "width": 8, "kernel": 3}]
}
B = {
    "stages": [{"n_layers": 1, "width": 8, "kernel": 3}, {"n_layers": 2, "width": 8, "kernel": 3}]
}
X = torch.randn(3, 1, 12, 12)


def build(config: Any) -> nn.Module:
    return build_model("cnn", config, in_channels=1)


def trial(number: int, config: Any, folder: Path, parent: Any = None) -> Trial:
    context = None if parent is None else {"parent": parent}
    return Trial(number, config, context=context, checkpoints=folder)


def test_without_parent_or_checkpoint_the_model_is_built_afresh(tmp_path: Path) -> None:
    model, inherited = inherit(trial(0, A, tmp_path), build, space="cnn")
    assert not inherited and model.training
    model, inherited = inherit(trial(1, B, tmp_path, parent=A), build, space="cnn")
    assert not inherited  # the parent saved no checkpoint


def test_a_child_grows_its_parents_checkpoint(
    tmp_path: Path, perturb: Callable[..., nn.Module]
) -> None:
    parent = perturb(build(A))
    trial(0, A, tmp_path).save_checkpoint({"model": parent.state_dict(), "epoch": 3})
    child, inherited = inherit(trial(1, B, tmp_path, parent=A), build, space="cnn")
    assert inherited and child.training
    with torch.no_grad():
        torch.testing.assert_close(child.eval()(X), parent.eval()(X), atol=1e-5, rtol=1e-5)


def test_a_checkpoint_without_model_is_refused(tmp_path: Path) -> None:
    trial(0, A, tmp_path).save_checkpoint({"weights": build(A).state_dict()})
    with pytest.raises(ConfigError, match=r"^checkpoint: the parent's checkpoint has no 'model'"):
        inherit(trial(1, B, tmp_path, parent=A), build, space="cnn")


def test_a_morph_search_grows_children_from_their_parents(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 1, 12, 12, generator=g), torch.arange(64) % 10
    space = cnn_space(n_stages=2, max_layers=2, widths=[4, 8], kernels=[3, 5])

    def objective(t: Trial) -> dict[str, float]:
        model, inherited = inherit(t, build, space="cnn")
        gap = 0.0
        if inherited:  # the child, before training, computes what the parent's checkpoint does
            parent = build(t.parent)
            parent.load_state_dict(t.load_checkpoint(t.parent)["model"])
            with torch.no_grad():
                gap = float((model.eval()(x) - parent.eval()(x)).abs().max())
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        model.train()
        for batch in torch.arange(64).split(16):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
        t.save_checkpoint({"model": model.state_dict()})
        with torch.no_grad():
            accuracy = float((model.eval()(x).argmax(1) == y).float().mean())
        return {"accuracy": accuracy, "inherited": float(inherited), "gap": gap}

    result = archsearch.search(
        objective,
        space,
        strategy={"name": "morph", "population_size": 3, "sample_size": 2},
        budget=9,
        metric="accuracy",
        storage="memory://",
        artifacts=tmp_path,
        seed=0,
    )
    inherited = result.trials["metrics.inherited"]
    assert result.n_trials == 9
    assert inherited[:3] == [0.0, 0.0, 0.0]  # the random start population
    assert sum(inherited) >= 4
    assert max(result.trials["metrics.gap"]) < 1e-5
