"""The archsearch command, run as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from archsearch.cli import main

CLI = [sys.executable, "-m", "archsearch.cli"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARCHSEARCH_STORAGE": ""}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


def test_default_run_writes_json_and_is_listed(tmp_path: Path) -> None:
    out = _run(["run", "--json", "out.json", "--name", "first"], tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["experiment"] == "first"
    assert data["best"]["arch"].count("~") == 6
    assert 80 < data["best"]["final_accuracy"] <= 91.57
    assert 0 < data["best"]["reward"] <= 100
    assert data["trials"] > 100
    assert 19000 < data["simulated_seconds"] <= 20000
    assert data["wall_seconds"] > 0
    assert "final accuracy" in out.stdout and "rank" in out.stdout
    listed = _run(["list"], tmp_path)
    assert "first" in listed.stdout and "complete" in listed.stdout
    shown = _run(["show", "first"], tmp_path)
    assert shown.returncode == 0 and data["best"]["arch"] in shown.stdout


def test_same_seed_same_result(tmp_path: Path, capsys: Any) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    results = []
    for name in ("a", "b"):
        assert (
            main(
                [
                    "run",
                    "--seed",
                    "5",
                    "--name",
                    name,
                    "--storage",
                    db,
                    "--quiet",
                    "--json",
                    str(tmp_path / f"{name}.json"),
                ]
            )
            == 0
        )
        results.append(json.loads((tmp_path / f"{name}.json").read_text())["best"])
    assert results[0] == results[1]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("strategy: {name: evolution}", "strategy: unknown strategy 'evolution'; allowed:"),
        ("strategy: {name: rea, sample_size: 20}", "strategy.sample_size: must be <= population"),
        ("strategy: {name: rea, pop: 3}", "strategy.pop: unknown option for strategy 'rea'"),
        ("space: {name: nb201, ops: [none, conv5x5]}", "space.ops[1]: unknown op 'conv5x5'"),
        ("benchmark: {name: nb201, dataset: mnist}", "benchmark.dataset: unknown 'mnist'"),
        ("budget: {seconds: -5}", "budget.seconds: must be a number > 0"),
        ("budget: {hours: 5}", "budget.hours: unknown field"),
        ("strategi: rea", "strategi: unknown field; allowed:"),
        ("seed: [1, 2", "not valid YAML"),
        ("- just a list", "expected a mapping of fields"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(
    tmp_path: Path, config: str, message: str, capsys: Any
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(config + "\n")
    code = main(["run", str(path), "--storage", f"sqlite:///{tmp_path / 'x.db'}", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_errors_from_a_real_process_have_no_traceback(tmp_path: Path) -> None:
    for args in (
        ["run", "missing.yaml"],
        ["query", "|conv5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|"],
        ["show", "nothing"],
        ["resume", "nothing"],
        ["run", "--storage", "mysql://x/y"],
    ):
        out = _run(args, tmp_path)
        assert out.returncode == 2, args
        assert out.stderr.startswith("archsearch: error: ") and out.stderr.count("\n") == 1, (
            out.stderr
        )


def test_existing_name_is_refused(tmp_path: Path, capsys: Any) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    assert main(["run", "--name", "dup", "--storage", db, "--quiet"]) == 0
    assert main(["run", "--name", "dup", "--storage", db, "--quiet"]) == 2
    assert "archsearch resume dup" in capsys.readouterr().err


def _stored(db: Path, name: str) -> list[tuple[Any, ...]]:
    from archsearch.store import SqlStore

    store = SqlStore(f"sqlite:///{db}")
    record = store.find_experiment(name)
    rows = [(t.number, t.config, str(t.state), t.score) for t in store.trials(record.id)]
    store.close()
    return rows


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    (tmp_path / "long.yaml").write_text("budget: {seconds: 300000}\nseed: 11\n")
    db = tmp_path / "k.db"
    storage = ["--storage", f"sqlite:///{db}", "--quiet"]
    assert _run(["run", "long.yaml", "--name", "ref", *storage], tmp_path).returncode == 0
    env = {**os.environ, "ARCHSEARCH_STORAGE": ""}
    for attempt, delay in enumerate((0.9, 0.5)):
        args = (
            ["run", "long.yaml", "--name", "killed", *storage]
            if attempt == 0
            else ["resume", "killed", *storage]
        )
        proc = subprocess.Popen(
            [*CLI, *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = _stored(db, "killed")
    reference = _stored(db, "ref")
    assert 0 < len(partial) < len(reference), "the kill should land mid-run"
    out = _run(["resume", "killed", "--json", "r.json", *storage], tmp_path)
    assert out.returncode == 0, out.stderr
    assert _stored(db, "killed") == reference
    numbers = [row[0] for row in reference]
    assert numbers == sorted(set(numbers))  # none twice, none missing
