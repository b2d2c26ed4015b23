"""A user's search killed or interrupted, then run again: nothing lost, nothing twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archsearch.store import open_store
from archsearch.trial import TrialStatus

SCRIPT = """
import sys, time
import archsearch

def objective(trial):
    width = trial.choice("width", [8, 16, 32])
    lr = trial.real("lr", 1e-3, 1.0, log=True)
    time.sleep(0.15)
    return width * lr

if __name__ == "__main__":
    url, name, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    result = archsearch.search(objective, strategy="rea", budget=16, workers=workers,
                               storage=url, name=name, seed=0, progress=False)
    print("STATUS", result.status, result.n_trials, flush=True)
"""

N = 16


def _trials(url: str, name: str) -> list[tuple[int, object, TrialStatus]]:
    store = open_store(url)
    record = store.find_experiment(name)
    assert record is not None
    out = [(t.number, t.config, t.state) for t in store.trials(record.id)]
    store.close()
    return out


def _complete(url: str, name: str) -> int:
    store = open_store(url)
    try:
        record = store.find_experiment(name)
        return 0 if record is None else store.count_trials(record.id)[TrialStatus.COMPLETE]
    finally:
        store.close()


def _run(script: Path, url: str, name: str, workers: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), url, name, str(workers)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.mark.parametrize(("sig", "workers"), [(signal.SIGKILL, 2), (signal.SIGINT, 1)])
def test_stopped_search_resumes_with_every_trial_once(
    tmp_path: Path, sig: signal.Signals, workers: int
) -> None:
    script = tmp_path / "search_script.py"
    script.write_text(SCRIPT)
    url = f"sqlite:///{tmp_path / 'resume.db'}"
    process = subprocess.Popen(
        [sys.executable, str(script), url, "stopped", str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while _complete(url, "stopped") < 5:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the search made no progress"
        time.sleep(0.05)
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert process.returncode == 0 and "STATUS interrupted" in out, err
        assert "run again with name='stopped'" in err
    kept = _complete(url, "stopped")
    assert 5 <= kept < N, "stopped too late to test anything"

    again = _run(script, url, "stopped", workers)
    assert again.returncode == 0 and f"STATUS complete {N}" in again.stdout, again.stderr
    reference = _run(script, url, "reference", workers)
    assert reference.returncode == 0, reference.stderr

    resumed = _trials(url, "stopped")
    assert [n for n, _, _ in resumed] == list(range(N))  # none lost, none twice
    assert all(state is TrialStatus.COMPLETE for _, _, state in resumed)
    assert resumed == _trials(url, "reference")  # as if never stopped
