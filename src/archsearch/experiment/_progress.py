"""A progress line for long searches: trials done, best so far, time left by the budget."""

from __future__ import annotations

import sys
from typing import IO, Any

from archsearch.experiment._budget import Budget
from archsearch.trial import Candidate, Result

__all__ = ["Progress"]


class Progress:
    """Called after every trial (``on_trial_end``); draws a bar on a terminal only.

    The bar counts trials when the budget has a trial limit, else seconds of the
    executor's clock (simulated seconds on a benchmark); its rate gives the time left.
    It is silent when ``enabled`` is False, or None and the stream is not a terminal.
    """

    def __init__(
        self,
        budget: Budget,
        *,
        simulated: bool = False,
        report: Any = None,
        enabled: bool | None = None,
        stream: IO[str] | None = None,
    ) -> None:
        self.bar: Any = None
        stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(stream, "isatty", lambda: False)())
        if not enabled:
            return
        from tqdm import tqdm

        self.by_seconds = budget.n_trials is None or (simulated and budget.seconds is not None)
        total = budget.seconds if self.by_seconds else budget.n_trials
        self.bar = tqdm(
            total=total,
            unit=" sim-s"
            if simulated and self.by_seconds
            else (" s" if self.by_seconds else " trials"),
            file=stream,
            dynamic_ncols=True,
            leave=False,
            mininterval=0.2,
        )
        self.report = report  # score -> the user's scale (negated for "min" metrics)
        self.done: float = 0  # an int while counting trials: the bar shows 3/20
        self.best: float | None = None

    def __call__(self, candidate: Candidate, result: Result, clock: float) -> None:
        bar = self.bar
        if bar is None:
            return
        target = clock if self.by_seconds else self.done + 1
        if bar.total is not None:
            target = min(target, bar.total)
        if result.score is not None and (self.best is None or result.score > self.best):
            self.best = result.score
            shown = self.report(self.best) if self.report is not None else self.best
            bar.set_postfix_str(f"best {shown:.4g}", refresh=False)
        bar.update(target - self.done)
        self.done = target

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
