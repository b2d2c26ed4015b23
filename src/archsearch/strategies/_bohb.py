"""BOHB: Hyperband with new configs from a TPE-style density model (Falkner et al. 2018)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Choice, Domain, Int, Real, Space
from archsearch.space._nodes import DictNode
from archsearch.strategies._hyperband import Hyperband
from archsearch.trial import Candidate, Result

__all__ = ["BOHB"]


# -- configs as rows of numbers ---------------------------------------------------------
def _to_unit(domain: Domain, index: float) -> float:
    """A genome entry as a model value: a category's index, or a number in [0, 1]."""
    if isinstance(domain, Int):
        if domain.log:
            lo, hi = math.log(domain.low - 0.5), math.log(domain.high + 0.5)
            return (math.log(domain.low + index) - lo) / (hi - lo)
        return (index + 0.5) / (domain.high - domain.low + 1)
    if isinstance(domain, Real):
        if domain.log:
            lo, hi = math.log(domain.low), math.log(domain.high)
            return (math.log(index) - lo) / (hi - lo)
        return (index - domain.low) / (domain.high - domain.low)
    return float(index)


def _from_unit(domain: Domain, value: float) -> int | float:
    """Inverse of :func:`_to_unit`, clipped into the domain."""
    if isinstance(domain, Int):
        n = domain.high - domain.low + 1
        if domain.log:
            lo, hi = math.log(domain.low - 0.5), math.log(domain.high + 0.5)
            return min(n - 1, max(0, round(math.exp(lo + value * (hi - lo))) - domain.low))
        return min(n - 1, max(0, int(value * n)))
    if isinstance(domain, Real):
        if domain.log:
            lo, hi = math.log(domain.low), math.log(domain.high)
            x = math.exp(lo + value * (hi - lo))
        else:
            x = domain.low + value * (domain.high - domain.low)
        return min(domain.high, max(domain.low, x))
    return min(int(domain.n_options or 1) - 1, max(0, int(value)))


class _Encoder:
    """One column per decision (keyed by path and option count), learnt as configs come.

    Inactive decisions of conditional spaces are NaN in a row.
    """

    def __init__(self, space: Space) -> None:
        self.space = space
        self.columns: dict[tuple[str, int | None], int] = {}
        self.domains: list[Domain] = []
        # a flat dict of constant choices: every config has the same genome paths, so a
        # config is (key, options) per decision, in genome order
        root = space.root
        self._flat: list[tuple[str, tuple[Any, ...]]] = []
        if isinstance(root, DictNode) and root.flat_options is not None:
            self._flat = list(zip(root.keys, root.flat_options, strict=True))
        self.is_flat = bool(self._flat)

    @property
    def n_options(self) -> list[int]:
        """Options per column; 0 for a number (Int, Real)."""
        return [d.n_options if isinstance(d, Choice) else 0 for d in self.domains]

    def encode(self, config: Any) -> list[float]:
        if self.is_flat and self.columns:  # every decision seen: one index per key
            try:
                row = []
                for k, opts in self._flat:
                    value = config[k]
                    i = opts.index(value)
                    if type(opts[i]) is not type(value):  # 1 == True: the genome decides
                        raise ValueError(k)
                    row.append(float(i))
                return row
            except (KeyError, TypeError, ValueError):
                pass  # not plainly a config of this space: the genome decides, or names the field
        genes = self.space.genome(config)
        if not all((path, n) in self.columns for path, _, n in genes):
            self._learn(genes)
        row = [math.nan] * len(self.domains)
        for path, index, n in genes:
            col = self.columns[path, n]
            row[col] = _to_unit(self.domains[col], index)
        return row

    def _learn(self, genes: list[Any]) -> None:
        index_of: dict[str, int | float] = {path: index for path, index, _ in genes}

        def record(path: str, n: int | None, domain: Domain) -> int | float:
            if (path, n) not in self.columns:
                self.columns[path, n] = len(self.domains)
                self.domains.append(domain)
            return index_of[path]

        self.space.decide(record)

    def decode(self, row: np.ndarray, rng: Any) -> Any:
        if self.is_flat:
            return {k: opts[int(v)] for (k, opts), v in zip(self._flat, row.tolist(), strict=True)}

        def choose(path: str, n: int | None, domain: Domain) -> int | float:
            col = self.columns.get((path, n))
            if col is None:  # never seen: uniform
                return domain.sample(rng) if n is None else int(rng.random() * n)
            return _from_unit(self.domains[col], float(row[col]))

        return self.space.decide(choose)


# -- the density model ------------------------------------------------------------------
class _Layout:
    """Where the choices and the numbers sit in a row."""

    def __init__(self, n_options: Sequence[int]) -> None:
        options = np.asarray(n_options, dtype=np.intp)
        self.width = len(options)
        self.cat, self.num = np.flatnonzero(options > 0), np.flatnonzero(options == 0)
        self.c = options[self.cat]
        self.offsets = np.cumsum(self.c) - self.c
        self.n_slots = int(self.c.sum())
        self.column_of = np.repeat(np.arange(len(self.c)), self.c)  # one-hot slot -> column
        self.cap = (self.c - 1) / np.maximum(self.c, 1)  # the uniform kernel
        self.multi = self.c > 1  # a choice of one option has no kernel (lam = 0)
        self.log_others = np.log(np.maximum(self.c - 1, 1))


class _Density:
    """A product-kernel density over rows (Aitchison-Aitken for choices, Gaussian else).

    Bandwidths follow the normal-reference rule ``1.06 * sd * n**(-1/(4+d))`` that BOHB
    takes from statsmodels, floored at ``min_bandwidth``. For a choice the spread is
    ``sqrt(1 - sum(freq**2))`` (BOHB applies the rule to option indices, which depends
    on their order), and the bandwidth is capped at ``(c-1)/c``, the uniform kernel.

    A choice's kernel is ``1 - lam`` where a candidate matches the data row and
    ``lam / (c - 1)`` where not, so its log is the miss term plus ``delta = log(1 -
    lam) - log(lam / (c - 1))`` on a match: :meth:`log_pdf` sums ``delta`` over the
    matching choices (one comparison per candidate, row and choice; no one-hot coding,
    no BLAS call to oversubscribe when many searches run in parallel processes).
    """

    def __init__(self, data: np.ndarray, layout: _Layout, min_bandwidth: float) -> None:
        n, d = data.shape
        factor = 1.06 * n ** (-1.0 / (4 + d))
        self.layout = layout
        self.cats = data[:, layout.cat]
        const = -math.log(n)
        if len(layout.c):
            slots = self.cats.astype(np.intp) + layout.offsets
            freq = np.bincount(slots.ravel(), minlength=layout.n_slots) / n
            purity = np.bincount(layout.column_of, freq * freq, minlength=len(layout.c))
            spread = np.sqrt(np.maximum(0.0, 1.0 - purity))
            self.lam = np.minimum(layout.cap, np.maximum(min_bandwidth, factor * spread))
            miss = np.zeros(len(layout.c))
            multi = layout.multi
            miss[multi] = np.log(self.lam[multi]) - layout.log_others[multi]
            self.delta = np.log1p(-self.lam) - miss
            const += float(miss.sum())
        else:
            self.lam = self.delta = np.zeros(0)
        self.num = data[:, layout.num]
        if len(layout.num):
            self.bw = np.maximum(min_bandwidth, factor * self.num.std(axis=0))
            const -= float(np.log(self.bw).sum()) + 0.5 * len(self.bw) * math.log(2 * math.pi)
        else:
            self.bw = np.zeros(0)
        self.const = const

    def log_pdf(self, rows: np.ndarray) -> np.ndarray:
        """Log density of each row of ``rows`` (one per candidate)."""
        same = rows[:, None, self.layout.cat] == self.cats[None]  # (candidates, n, choices)
        total = np.einsum("snk,k->sn", same, self.delta)
        if len(self.bw):
            z = (rows[:, None, self.layout.num] - self.num[None]) / self.bw
            total -= 0.5 * np.einsum("snd,snd->sn", z, z)
        peak = total.max(axis=1)
        out: np.ndarray = peak + np.log(np.exp(total - peak[:, None]).sum(axis=1)) + self.const
        return out

    def sample(self, gen: np.random.Generator, data: np.ndarray, n: int, widen: float) -> Any:
        """Draw ``n`` rows around the rows of ``data`` (which this density was fit on).

        Each draw takes a random row; each choice is kept with probability ``1 - lam``,
        else set to another option uniformly; each number moves by a Gaussian of
        ``widen`` bandwidths, truncated to [0, 1].
        """
        rows = data[gen.integers(0, len(data), n)]
        cat, c = self.layout.cat, self.layout.c
        if len(cat):
            base = rows[:, cat]
            change = gen.random(base.shape) < self.lam
            shift = 1 + np.floor(gen.random(base.shape) * np.maximum(c - 1, 1))
            rows[:, cat] = np.where(change, (base + shift) % c, base)
        if len(self.bw):
            center, scale = rows[:, self.layout.num], self.bw * widen
            x = center + scale * gen.standard_normal(center.shape)
            for _ in range(20):  # rejection for the truncation, then clip what is left
                out = (x < 0) | (x > 1)
                if not out.any():
                    break
                x[out] = (center + scale * gen.standard_normal(center.shape))[out]
            rows[:, self.layout.num] = np.clip(x, 0.0, 1.0)
        return rows


class _Table:
    """Encoded rows (NaN where inactive) and scores of one fidelity; grown by doubling."""

    def __init__(self) -> None:
        self.rows = np.full((16, 0), np.nan)
        self.scores = np.empty(16)
        self.n = 0

    def add(self, row: list[float], score: float) -> None:
        if self.n == len(self.scores):
            self.rows = np.vstack([self.rows, np.full(self.rows.shape, np.nan)])
            self.scores = np.concatenate([self.scores, np.empty(self.n)])
        if len(row) > self.rows.shape[1]:
            extra = np.full((len(self.rows), len(row) - self.rows.shape[1]), np.nan)
            self.rows = np.hstack([self.rows, extra])
        self.rows[self.n, : len(row)] = row
        self.scores[self.n] = score
        self.n += 1

    def data(self, width: int) -> np.ndarray:
        rows = self.rows[: self.n]
        if rows.shape[1] < width:
            rows = np.hstack([rows, np.full((self.n, width - rows.shape[1]), np.nan)])
        return rows


def _impute(data: np.ndarray, n_options: Sequence[int], gen: np.random.Generator) -> np.ndarray:
    """Fill inactive (NaN) entries with values of rows where they are active (as BOHB)."""
    data = data.copy()
    for col in np.flatnonzero(np.isnan(data).any(axis=0)).tolist():
        missing = np.isnan(data[:, col])
        active = data[~missing, col]
        k = int(missing.sum())
        if len(active):
            data[missing, col] = active[gen.integers(0, len(active), k)]
        else:
            u = gen.random(k)
            data[missing, col] = np.floor(u * n_options[col]) if n_options[col] else u
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_RULES: dict[str, tuple[Any, str]] = {
    "top_n_percent": (lambda v: _is_number(v) and 0 < v < 100, "a number in (0, 100)"),
    "num_samples": (lambda v: _is_number(v) and isinstance(v, int) and v >= 1, "an integer >= 1"),
    "random_fraction": (lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "bandwidth_factor": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "min_bandwidth": (lambda v: _is_number(v) and 0 < v < 1, "a number in (0, 1)"),
    "min_points_in_model": (
        lambda v: v is None or (_is_number(v) and isinstance(v, int) and v >= 1),
        "an integer >= 1 or None",
    ),
}


def _check_options(options: dict[str, Any]) -> None:
    for name, (is_valid, rule) in _RULES.items():
        if not is_valid(options[name]):
            raise ConfigError(f"{name}: must be {rule}, got {options[name]!r}")


_Model = tuple[_Density, _Density, np.ndarray]


def fit_model(
    data: np.ndarray,
    scores: np.ndarray,
    n_good: int,
    layout: _Layout,
    n_options: Sequence[int],
    *,
    min_bandwidth: float,
    impute: np.random.Generator,
) -> _Model:
    """The good and bad densities of encoded ``data`` split by ``scores`` (maximised).

    The ``n_good`` best rows (ties: the earlier) make ``l``, the rest ``g``; inactive
    entries are imputed with ``impute`` (seeded by the data alone, so that a restored
    search refits alike). Returns ``(l, g, the good rows)``.
    """
    order = np.argsort(-scores, kind="stable")
    good, bad = data[order[:n_good]], data[order[n_good:]]
    if np.isnan(data).any():
        good, bad = _impute(good, n_options, impute), _impute(bad, n_options, impute)
    return (
        _Density(good, layout, min_bandwidth),
        _Density(bad, layout, min_bandwidth),
        good,
    )


def pick_from_model(
    model: _Model,
    encoder: _Encoder,
    gen: np.random.Generator,
    rng: Any,
    *,
    seen: set[str],
    num_samples: int,
    widen: float,
) -> Any | None:
    """Of ``num_samples`` draws from ``l``, the config with the best ``l/g`` not in ``seen``.

    Numbers are drawn ``widen`` bandwidths wide; None when every draw was seen.
    """
    good, bad, good_rows = model
    rows = good.sample(gen, good_rows, num_samples, widen)
    gain = good.log_pdf(rows) - bad.log_pdf(rows)
    tried: set[bytes] = set()
    for i in np.argsort(-gain, kind="stable"):
        if rows[i].tobytes() in tried:
            continue
        tried.add(rows[i].tobytes())
        config = encoder.decode(rows[i], rng)
        if encoder.space.key(config) not in seen:
            return config
    return None


@STRATEGIES.register("bohb")
class BOHB(Hyperband):
    """Hyperband whose new configs maximise ``l(x)/g(x)`` of a TPE-style density model.

    Every told result is kept per fidelity. The model uses the highest fidelity whose
    results fill a good set of ``max(n_min, top_n_percent% of them)`` and a bad set of
    the rest, both at least ``n_min = n_decisions + 1`` (``min_points_in_model``);
    failed results count as the worst. ``l`` and ``g`` are product-kernel densities of
    the good and bad sets (Aitchison-Aitken kernels for choices, Gaussian for Int and
    Real in unit space; see :class:`_Density`). A new config is, with probability
    ``random_fraction`` or while no model exists, uniform at random; otherwise the best
    of ``num_samples`` draws from ``l`` (numbers drawn ``bandwidth_factor`` times
    wider, choices not, as in hpbandster) that was not started before. hpbandster
    may repeat a config; on a deterministic benchmark a repeat only wastes budget (on
    NB201 it was 140 of 170 trials). Promotions are Hyperband's.

    NAS-Bench-201: the NATS-Bench protocol rewards the 12-epoch validation accuracy,
    and its BOHB ran hpbandster with budgets 1, 4 and 12 epochs *of the 12-epoch
    schedule*, ``num_samples=4``, ``random_fraction=0``, ``bandwidth_factor=3`` and
    ``min_bandwidth=0.3``. Our table holds only the end of the 12-epoch runs and the
    200-epoch results, so the honest setting is ``min_fidelity=max_fidelity=12``:
    brackets degenerate to one config each and BOHB is its KDE model. Letting it
    reach 200 epochs would reward it with the accuracy the search is judged by (the
    test accuracy for cifar100 and ImageNet16-120), which the protocol forbids.

    Args:
        space: the search space.
        fidelities, min_fidelity, max_fidelity, eta: see :class:`Hyperband`.
        max_brackets: brackets run at once; None (default) starts the next bracket
            whenever the open ones have nothing to run, BOHB's parallel scheme
            (Falkner et al. 2018, section 4.2), so :meth:`ask` never returns None.
            With one worker this is plain sequential Hyperband.
        top_n_percent: share of results in the good set (BOHB: 15).
        num_samples: draws from ``l`` per new config (BOHB: 64; NATS-Bench used 4).
        random_fraction: share of new configs drawn uniformly (BOHB: 1/3; NATS-Bench: 0).
        bandwidth_factor: widening of Int/Real draws (BOHB: 3).
        min_bandwidth: floor of every bandwidth (hpbandster: 1e-3; NATS-Bench: 0.3).
        min_points_in_model: ``n_min``; None for the number of decisions + 1.
        seed: fixes the search.

    Example:
        >>> from archsearch.spaces import nb201_space
        >>> bohb = BOHB(nb201_space(), fidelities=(12.0, 200.0), max_fidelity=12, seed=0)
        >>> bohb.rungs, bohb.ask().fidelity
        ((12.0,), 12.0)
    """

    def __init__(
        self,
        space: Space,
        *,
        fidelities: Sequence[float] | None = None,
        min_fidelity: float | None = None,
        max_fidelity: float | None = None,
        eta: float = 3,
        max_brackets: int | None = None,
        top_n_percent: float = 15,  # 15, 64, 1/3, 3, 1e-3: hpbandster's defaults
        num_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth_factor: float = 3,
        min_bandwidth: float = 1e-3,
        min_points_in_model: int | None = None,
        seed: int | None = None,
    ) -> None:
        options = {
            "top_n_percent": top_n_percent,
            "num_samples": num_samples,
            "random_fraction": random_fraction,
            "bandwidth_factor": bandwidth_factor,
            "min_bandwidth": min_bandwidth,
            "min_points_in_model": min_points_in_model,
        }
        _check_options(options)
        super().__init__(
            space,
            fidelities=fidelities,
            min_fidelity=min_fidelity,
            max_fidelity=max_fidelity,
            eta=eta,
            max_brackets=max_brackets,
            seed=seed,
        )
        self.top_n_percent, self.num_samples = top_n_percent, num_samples
        self.random_fraction, self.bandwidth_factor = random_fraction, bandwidth_factor
        self.min_bandwidth, self.min_points_in_model = min_bandwidth, min_points_in_model
        self._gen = np.random.Generator(np.random.PCG64(self.rng.getrandbits(128)))
        self._impute_seed = self.rng.getrandbits(63)
        self._reset_observations()

    def _reset_observations(self) -> None:
        self._encoder = _Encoder(self.space)
        self._observed: list[list[Any]] = []  # [config, fidelity, score], in told order
        self._seen: set[str] = set()  # keys of the configs started so far
        self._tables: dict[float, _Table] = {}
        self._cache: dict[float, tuple[int, _Model]] = {}  # fidelity -> (n rows, model)
        self._layout: _Layout | None = None

    def _observe(self, config: Any, fidelity: float, score: float | None) -> None:
        self._observed.append([config, fidelity, score])
        table = self._tables.setdefault(fidelity, _Table())
        table.add(self._encoder.encode(config), -math.inf if score is None else score)

    def tell(self, candidate: Candidate, result: Result) -> None:
        super().tell(candidate, result)
        fidelity = candidate.fidelity if candidate.fidelity is not None else self.rungs[-1]
        self._observe(candidate.config, fidelity, result.score)

    def _new_config(self, fidelity: float) -> Any:
        config = self._pick()
        self._seen.add(self.space.key(config))
        return config

    def _pick(self) -> Any:
        """A random config, or the unseen draw from ``l`` with the best ``l/g``."""
        if self.random_fraction and self.rng.random() < self.random_fraction:
            return self.space.sample(self.rng)
        model = self._model()
        if model is None:
            return self.space.sample(self.rng)
        config = pick_from_model(
            model,
            self._encoder,
            self._gen,
            self.rng,
            seen=self._seen,
            num_samples=self.num_samples,
            widen=self.bandwidth_factor,
        )
        return self.space.sample(self.rng) if config is None else config  # all run before

    def _model(self) -> _Model | None:
        """The model of the highest fidelity with enough results (refit only when grown)."""
        n_min = self.min_points_in_model or len(self._encoder.domains) + 1
        for fidelity in sorted(self._tables, reverse=True):
            n = self._tables[fidelity].n
            n_good = max(n_min, math.floor(self.top_n_percent * n / 100))
            if n - n_good < n_min:
                continue
            cached = self._cache.get(fidelity)
            if cached is None or cached[0] != n:
                cached = (n, self._fit(self._tables[fidelity], n_good))
                self._cache[fidelity] = cached
            return cached[1]
        return None

    def _fit(self, table: _Table, n_good: int) -> _Model:
        n_options = self._encoder.n_options
        if self._layout is None or self._layout.width != len(n_options):
            self._layout = _Layout(n_options)
        gen = np.random.default_rng([self._impute_seed, table.n])
        return fit_model(
            table.data(len(n_options)),
            table.scores[: table.n],
            n_good,
            self._layout,
            n_options,
            min_bandwidth=self.min_bandwidth,
            impute=gen,
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "observed": self._observed,
            "gen": self._gen.bit_generator.state,  # PCG64: plain ints and strings
            "impute_seed": self._impute_seed,
            "seen": sorted(self._seen),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._gen.bit_generator.state = state["gen"]
        self._impute_seed = int(state["impute_seed"])
        self._reset_observations()
        for config, fidelity, score in state["observed"]:
            self._observe(config, float(fidelity), None if score is None else float(score))
        self._seen = set(state["seen"])
