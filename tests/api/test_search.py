"""archsearch.search: a user's objective, define-by-run and space-defined, stored alike."""

from __future__ import annotations

import io
import json
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import archsearch
from archsearch import Choice, Int, Real, Space, symbolic, when
from archsearch.api import Trial, TrialPruned, trace_space
from archsearch.cli import main
from archsearch.errors import ConfigError
from archsearch.experiment import Progress
from archsearch.experiment._budget import Budget
from archsearch.store import open_store
from archsearch.trial import Candidate, Result, TrialStatus


def conditional(trial: Any) -> dict[str, float]:
    """Define-by-run: per-layer kernels up to a drawn depth, momentum for SGD only."""
    depth = trial.int("depth", 1, 3)
    kernels = [trial.choice(f"kernel_{i}", [3, 5, 7]) for i in range(depth)]
    optimizer = trial.choice("optimizer", ["sgd", "adam"])
    momentum = trial.real("momentum", 0.5, 0.99) if optimizer == "sgd" else 0.0
    lr = trial.real("lr", 1e-4, 1e-1, log=True)
    return {"value": sum(kernels) * lr + momentum, "params": 100.0 * depth}


HANDWRITTEN = Space(
    {
        "depth": Int(1, 3),
        "kernel_0": Choice([3, 5, 7]),
        "kernel_1": when(Choice([3, 5, 7]), depth=[2, 3]),
        "kernel_2": when(Choice([3, 5, 7]), depth=3),
        "optimizer": Choice(["sgd", "adam"]),
        "momentum": when(Real(0.5, 0.99), optimizer="sgd"),
        "lr": Real(1e-4, 1e-1, log=True),
    }
)


def space_defined(trial: Trial) -> dict[str, float]:
    """The same objective, reading a given space's config."""
    c = trial.config
    kernels = [c[f"kernel_{i}"] for i in range(c["depth"])]
    momentum = c.get("momentum", 0.0)
    return {"value": sum(kernels) * c["lr"] + momentum, "params": 100.0 * c["depth"]}


def test_traced_space_equals_the_handwritten_one() -> None:
    assert trace_space(conditional) == HANDWRITTEN


@pytest.mark.parametrize("strategy", ["rea", "tpe", "random"])
def test_define_by_run_and_space_defined_configs_store_identically(
    tmp_path: Path, strategy: str
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    common = {"strategy": strategy, "budget": 25, "storage": url, "seed": 3}
    by_run = archsearch.search(conditional, name="by-run", **common)
    by_space = archsearch.search(space_defined, HANDWRITTEN, name="by-space", **common)
    store = open_store(url)
    rows = {}
    for name in ("by-run", "by-space"):
        record = store.find_experiment(name)
        assert record is not None
        rows[name] = [(t.number, t.config, t.metrics, t.state) for t in store.trials(record.id)]
    assert len(rows["by-run"]) == 25
    assert rows["by-run"] == rows["by-space"]
    assert by_run.best_config == by_space.best_config
    # the conditional keys are absent, not null, where inactive
    for _, config, _, _ in rows["by-run"]:
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        assert ("kernel_2" in config) == (config["depth"] == 3)


@symbolic
def make_net(width=Choice([4, 8]), depth=Int(1, 2)):  # noqa: B008 - an inline space
    layers: list[nn.Module] = []
    channels = 1
    for _ in range(depth):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 2))


def symbolic_objective(trial: Any) -> float:
    net = trial.build("net", make_net())
    lr = trial.real("lr", 1e-3, 1e-1, log=True)
    return float(sum(p.numel() for p in net.parameters())) * lr


def test_symbolic_models_work_define_by_run_and_space_defined() -> None:
    space = Space({"net": make_net(), "lr": Real(1e-3, 1e-1, log=True)})
    assert trace_space(symbolic_objective) == space
    a = archsearch.search(symbolic_objective, budget=6, storage="memory://", seed=1)
    b = archsearch.search(symbolic_objective, space, budget=6, storage="memory://", seed=1)
    assert a.trials["params.net.width"] == b.trials["params.net.width"]
    assert a.trials["value"] == b.trials["value"]
    assert all(v > 0 for v in a.trials["value"])


def test_result_table_and_load(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    result = archsearch.search(conditional, budget=8, storage=url, name="t", mode="min")
    table = result.trials
    assert len(table) == 8 and {"number", "state", "value", "params.depth"} <= set(table.columns)
    assert result.best_value == min(table["value"])  # reported in the user's direction
    again = archsearch.load("t", url)
    assert again.best_config == result.best_config and again.n_trials == 8
    assert "depth" in str(table)


def test_a_user_exception_fails_that_trial_with_its_traceback(tmp_path: Path) -> None:
    def fragile(trial: Trial) -> float:
        x = trial.config["x"]
        if x % 3 == 0:
            raise ValueError(f"cannot train x={x}")
        return float(x)

    url = f"sqlite:///{tmp_path / 'f.db'}"
    result = archsearch.search(
        fragile, {"x": Int(0, 8)}, strategy="grid", budget=9, storage=url, name="f"
    )
    assert result.n_trials == 9 and result.n_failed == 3 and result.best_value == 8
    failed = [t for t in result.trial_records() if t.state is TrialStatus.FAILED]
    for trial in failed:
        assert trial.error is not None
        assert trial.error.splitlines()[0].startswith("ValueError: cannot train x=")
        assert "Traceback (most recent call last)" in trial.error and "fragile" in trial.error
        assert trial.failure == "exception"


def test_bad_return_values_fail_the_trial_with_a_clear_reason() -> None:
    result = archsearch.search(
        lambda t: "high", {"x": Int(0, 1)}, budget=2, storage="memory://", strategy="grid"
    )
    assert result.n_failed == 2
    (error,) = {t.error for t in result.trial_records()}
    assert error == "objective returned a str: return a number or a dict of numbers"


def test_a_bad_draw_stops_the_search_naming_the_decision() -> None:
    def changes_its_mind(trial: Any) -> float:
        return float(trial.choice("k", [3, 5] if trial.config else [1]))

    with pytest.raises(ConfigError, match="k: unknown value"):
        archsearch.search(changes_its_mind, {"k": Choice([1])}, budget=2, storage="memory://")


# -- pruning -------------------------------------------------------------------------
def curve_objective(trial: Trial) -> float:
    x = trial.config["x"]
    for step in range(1, 6):
        trial.report(x * step, step)
    return x * 5


def test_the_median_pruner_stops_trials_below_the_median() -> None:
    result = archsearch.search(
        curve_objective,
        {"x": Real(0.0, 1.0)},
        budget=40,
        storage="memory://",
        pruner={"name": "median", "min_trials": 3},
        seed=0,
    )
    records = result.trial_records()
    pruned = [t for t in records if t.state is TrialStatus.PRUNED]
    complete = [t for t in records if t.state is TrialStatus.COMPLETE]
    assert len(pruned) >= 10 and len(complete) >= 3
    for trial in complete:
        assert trial.curve is not None and len(trial.curve) == 5
    for trial in pruned:
        assert trial.curve is not None and len(trial.curve) < 5  # stopped early
        step, value = trial.curve[-1]
        assert trial.score is None and f"pruned at step {step:g}" in (trial.error or "")
        # below the median of the values the trials before it reported at that step
        earlier = [v for t in records[: trial.number] for s, v in t.curve or () if s == step]
        assert len(earlier) >= 3 and value < float(np.median(earlier))
    assert result.best_value == max(t.config["x"] * 5 for t in complete)


def test_no_pruning_before_min_trials_and_percentile_validation() -> None:
    result = archsearch.search(
        curve_objective, {"x": Real(0.0, 1.0)}, budget=5, storage="memory://", pruner="median"
    )
    assert result.n_pruned == 0  # five trials are needed before any step is judged
    with pytest.raises(ConfigError, match="pruner.percentile"):
        archsearch.search(
            curve_objective, {"x": Real(0, 1)}, pruner={"name": "percentile", "percentile": 0}
        )


# -- multi-fidelity and checkpoints --------------------------------------------------
def epochs_objective(trial: Trial) -> dict[str, float]:
    """Trains from its checkpoint up to trial.fidelity epochs; says which it trained."""
    state = trial.load_checkpoint()
    start = 0 if state is None else int(state["epoch"])
    weight = torch.zeros(1) if state is None else state["weight"]
    for epoch in range(start + 1, trial.fidelity + 1):
        weight = weight + trial.config["lr"]
        trial.report(float(weight) - epoch * 0.01, epoch)
    trial.save_checkpoint({"epoch": trial.fidelity, "weight": weight})
    return {"value": float(weight), "first_epoch": start + 1, "last_epoch": trial.fidelity}


@pytest.mark.parametrize("strategy", ["asha", "hyperband", "bohb"])
def test_a_promoted_trial_resumes_from_its_checkpoint(tmp_path: Path, strategy: str) -> None:
    result = archsearch.search(
        epochs_objective,
        {"lr": Real(0.01, 1.0, log=True)},
        strategy=strategy,
        fidelity=9,
        budget=30,
        storage=f"sqlite:///{tmp_path / 'mf.db'}",
        seed=0,
    )
    by_config: dict[float, list[Any]] = {}
    for trial in result.trial_records():
        assert trial.state is TrialStatus.COMPLETE
        by_config.setdefault(trial.config["lr"], []).append(trial)
    promoted = [ts for ts in by_config.values() if len(ts) > 1]
    assert promoted, "no config was promoted"
    for trials in by_config.values():
        trained = 0
        for trial in sorted(trials, key=lambda t: t.number):
            # each trial starts where the previous one of its config stopped: no epoch twice
            assert trial.metrics["first_epoch"] == trained + 1
            trained = int(trial.metrics["last_epoch"])
            assert trained == trial.fidelity
            assert len(trial.curve or []) == trained - trial.metrics["first_epoch"] + 1
    assert (tmp_path / "mf-artifacts").is_dir()


def test_multi_fidelity_needs_a_fidelity() -> None:
    with pytest.raises(ConfigError, match="fidelity: strategy 'asha' is multi-fidelity"):
        archsearch.search(epochs_objective, {"lr": Real(0.1, 1)}, strategy="asha")


# -- constraints and several objectives ---------------------------------------------
def test_constraints_on_user_metrics_make_trials_infeasible() -> None:
    result = archsearch.search(
        conditional, budget=30, storage="memory://", constraints={"params": 150}, seed=2
    )
    records = result.trial_records()
    infeasible = [t for t in records if t.state is TrialStatus.INFEASIBLE]
    assert infeasible and all(t.config["depth"] >= 2 for t in infeasible)
    assert result.best_config["depth"] == 1


def test_several_objectives_with_nsga2() -> None:
    result = archsearch.search(
        conditional,
        strategy="nsga2",
        metrics={"value": "max", "params": "min"},
        budget=30,
        storage="memory://",
    )
    assert result.n_trials == 30 and result.n_failed == 0
    assert {"value", "params"} <= set(result.best_metrics)


# -- executors -----------------------------------------------------------------------
def test_an_objective_processes_cannot_import_is_refused_in_one_line() -> None:
    def local(trial: Trial) -> float:
        return 1.0

    for objective in (local, lambda t: 1.0):
        with pytest.raises(ConfigError) as info:
            archsearch.search(objective, {"x": Int(0, 1)}, workers=2, storage="memory://")
        message = str(info.value)
        assert "\n" not in message
        assert "cannot be sent to worker processes" in message and "workers=1" in message


MODULE = """
import os, time

def objective(trial):
    width = trial.choice("width", [8, 16, 32])
    lr = trial.real("lr", 1e-3, 1.0, log=True)
    time.sleep(float(os.environ.get("OBJECTIVE_SLEEP", "0")))
    return {"value": width * lr, "pid": os.getpid()}

def build(config):
    import torch
    return torch.nn.Linear(4, config["width"])

def uneven(trial):
    width = trial.choice("width", [8, 16, 32])
    time.sleep(1.5 if trial.number == 0 else 0.05)
    return float(width)

def interrupted_once(trial):
    width = trial.choice("width", [8, 16, 32])
    flag = os.environ["STOP_FLAG"]
    if trial.number == 3 and os.path.exists(flag):
        os.remove(flag)
        raise KeyboardInterrupt  # as Ctrl-C would, in the middle of trial 3
    return float(width)

def trained(trial):
    import torch
    model = build(trial.config)
    trial.save_checkpoint({"model": model.state_dict(), "epoch": 1})
    return float(trial.config["width"])
"""


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "user_objectives.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    return importlib.import_module("user_objectives")


def test_worker_processes_run_an_importable_objective(tmp_path: Path, user_module: Any) -> None:
    result = archsearch.search(
        user_module.objective,
        strategy="rea",
        budget=8,
        workers=2,
        storage=f"sqlite:///{tmp_path / 'p.db'}",
        name="p",
    )
    assert result.n_trials == 8 and result.n_failed == 0
    pids = {t.metrics["pid"] for t in result.trial_records()}
    assert len(pids) == 2 and not pids & {float(__import__("os").getpid())}


@pytest.mark.parametrize("ordered", [True, False])
def test_stored_end_times_are_when_trials_ended(
    tmp_path: Path, user_module: Any, ordered: bool
) -> None:
    result = archsearch.search(
        user_module.uneven,
        strategy="grid",
        budget=3,
        workers=2,
        ordered=ordered,
        storage=f"sqlite:///{tmp_path / 'o.db'}",
    )
    first, second, _ = result.trial_records()
    assert first.ended_at is not None and second.ended_at is not None
    # trial 1 (short) ended well before trial 0 (long), also when handed back after it
    assert second.ended_at < first.ended_at - 1.0


def test_ray_runs_an_importable_objective(tmp_path: Path, user_module: Any) -> None:
    pytest.importorskip("ray", reason="ray is an optional dependency")
    import ray

    try:
        result = archsearch.search(
            user_module.objective,
            budget=4,
            workers=2,
            executor="ray",
            storage=f"sqlite:///{tmp_path / 'r.db'}",
        )
    finally:
        ray.shutdown()
    assert result.n_trials == 4 and result.n_failed == 0


def test_cli_resume_continues_a_search_of_an_importable_objective(
    tmp_path: Path, user_module: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    flag = tmp_path / "stop"
    flag.touch()
    monkeypatch.setenv("STOP_FLAG", str(flag))
    url = f"sqlite:///{tmp_path / 'c.db'}"
    first = archsearch.search(
        user_module.interrupted_once, budget=8, storage=url, name="c", strategy="rea"
    )
    assert first.status == "interrupted" and first.n_trials == 3
    assert "run again with name='c'" in capsys.readouterr().err
    assert main(["resume", "c", "--storage", url, "--quiet"]) == 0
    done = archsearch.load("c", url)
    assert done.status == "complete" and done.n_trials == 8
    assert [t.number for t in done.trial_records()] == list(range(8))


def test_cli_resume_of_a_lambda_objective_says_what_to_do(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    store = open_store(url)
    archsearch.search(lambda t: 1.0, {"x": Int(0, 3)}, budget=2, storage=url, name="l")
    record = store.find_experiment("l")
    assert record is not None
    store.update_experiment(record.id, status="interrupted")
    assert main(["resume", "l", "--storage", url]) == 2
    assert "was a lambda or a local function" in capsys.readouterr().err


def test_export_writes_config_model_and_checkpoint(tmp_path: Path, user_module: Any) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    archsearch.search(
        user_module.trained,
        {"width": Choice([2, 3, 5])},
        strategy="grid",
        budget=3,
        storage=url,
        name="e",
        builder="user_objectives:build",
    )
    out = tmp_path / "out"
    assert main(["export", "e", "--out", str(out), "--storage", url]) == 0
    best = json.loads((out / "best.json").read_text())
    assert best["config"] == {"width": 5} and best["value"] == 5.0
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    weights = torch.load(out / "model.pt", weights_only=True)
    assert torch.equal(weights["weight"], saved["model"]["weight"])  # the trained weights
    assert "Linear(in_features=4, out_features=5" in (out / "model.txt").read_text()


def test_export_of_an_unknown_experiment_is_one_line(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["export", "nope", "--out", str(tmp_path / "o"), "--storage", url]) == 2
    assert "no experiment 'nope'" in capsys.readouterr().err


# -- progress ------------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_trials_and_best_on_a_terminal_only() -> None:
    shown = _Terminal()
    bar = Progress(Budget(n_trials=4), enabled=None, stream=shown)
    for i, score in enumerate([1.0, 3.0, 2.0, 2.5]):
        bar(Candidate(i, {}), Result({}, score=score), float(i))
    bar.bar.refresh()
    text = shown.getvalue()
    bar.close()
    assert "4/4" in text and "best 3" in text
    hidden = io.StringIO()
    quiet = Progress(Budget(n_trials=4), enabled=None, stream=hidden)
    quiet(Candidate(0, {}), Result({}, score=1.0), 0.0)
    assert quiet.bar is None and hidden.getvalue() == ""


# -- the trial object ----------------------------------------------------------------
def test_report_needs_increasing_steps_and_prunes_nan() -> None:
    trial = Trial(0, {}, context={"thresholds": {"2": 0.5}, "mode": "max"})
    trial.report(0.1, 1)
    with pytest.raises(ConfigError, match="steps must increase"):
        trial.report(0.2, 1)
    with pytest.raises(TrialPruned):
        trial.report(math.nan, 2)
    assert trial.should_prune()


def test_trace_refuses_what_no_space_expresses() -> None:
    def twice(trial: Any) -> float:
        trial.int("a", 1, 2)
        return trial.int("a", 1, 2)

    with pytest.raises(ConfigError, match="drawn twice"):
        trace_space(twice)

    def nothing(trial: Any) -> float:
        trial.report(1.0, 1)
        return 1.0

    with pytest.raises(ConfigError, match="draws no decision"):
        trace_space(nothing)


def test_trial_pickles_for_worker_results() -> None:
    trial = Trial(3, {"a": 1}, 4.0)
    assert pickle.loads(pickle.dumps(trial)).config == {"a": 1}


def test_export_rebuilds_a_built_in_space_model(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    config = tmp_path / "c.yaml"
    config.write_text("budget: {trials: 5}\n")
    assert main(["run", str(config), "--name", "nb", "--storage", url, "--quiet"]) == 0
    out = tmp_path / "nb"
    assert main(["export", "nb", "--out", str(out), "--storage", url]) == 0
    best = json.loads((out / "best.json").read_text())
    from archsearch.spaces import nb201_space

    assert nb201_space().validate(best["config"]) == best["config"]
    weights = torch.load(out / "model.pt", weights_only=True)
    assert any(k.endswith("weight") for k in weights)
    assert "parameters" in (out / "model.txt").read_text()
    assert not (out / "checkpoint.pt").exists()  # a table search keeps no checkpoints


def test_a_strategy_can_name_a_parent_whose_checkpoint_the_trial_loads(tmp_path: Path) -> None:
    from archsearch.api import ObjectiveEvaluator

    def child(trial: Trial) -> float:
        inherited = trial.load_checkpoint(trial.parent) if trial.parent else None
        trial.save_checkpoint({"w": torch.tensor([float(trial.config["x"])])})
        return -1.0 if inherited is None else float(inherited["w"])

    evaluator = ObjectiveEvaluator(child, artifacts=str(tmp_path))
    assert evaluator.evaluate_candidate(Candidate(0, {"x": 3})).metrics["value"] == -1.0
    again = evaluator.evaluate_candidate(Candidate(1, {"x": 4}, context={"parent": {"x": 3}}))
    assert again.metrics["value"] == 3.0


def saturating(trial: Trial) -> float:
    x = trial.config["x"]
    value = 0.0
    for step in range(1, 11):
        value = 100 * x * (1 - math.exp(-step / 3))
        trial.report(value, step)
    return value


def test_the_curve_pruner_stops_curves_that_cannot_beat_the_best() -> None:
    result = archsearch.search(
        saturating,
        {"x": Real(0.0, 1.0)},
        budget=30,
        storage="memory://",
        pruner={"name": "curve", "threshold": 0.05},
        fidelity=10,
        seed=0,
    )
    records = result.trial_records()
    pruned = [t for t in records if t.state is TrialStatus.PRUNED]
    assert len(pruned) >= 5
    right = 0
    for trial in pruned:
        assert trial.curve is not None and 3 <= len(trial.curve) < 10
        assert "P(value at step 10 >" in (trial.error or "")
        earlier = [t.score for t in records[: trial.number] if t.state is TrialStatus.COMPLETE]
        true_final = 100 * trial.config["x"] * (1 - math.exp(-10 / 3))
        right += true_final < max(earlier)  # type: ignore[type-var]
    assert right >= 0.9 * len(pruned)
    with pytest.raises(ConfigError, match="pruner.model"):
        archsearch.search(saturating, {"x": Real(0, 1)}, pruner={"name": "curve", "model": "x"})
