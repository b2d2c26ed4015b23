"""An LSTM controller trained by REINFORCE (Zoph & Le, ICLR 2017; ENAS, Pham et al. 2018).

The controller writes a config as a sequence of tokens, one per active decision in
:meth:`Space.decide` order: at each step an LSTM cell reads the embedding of the
previous decision's option (a start token first) and a shared softmax head, cut to
the decision's number of options, gives the next token's distribution. Each told
score trains it with one policy-gradient step (a batch of one).
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from archsearch.errors import ConfigError
from archsearch.registry import STRATEGIES
from archsearch.space import Space
from archsearch.strategies._base import Strategy
from archsearch.trial import Candidate, Result

__all__ = ["LSTMController"]

INIT_RANGE = 0.1  # ENAS initialises every controller weight uniformly in [-0.1, 0.1]
MAX_OPTIONS = 4096  # the shared head has one row per option of the largest decision


class _NoInit:
    """Skips a torch layer's own initialisation, which draws from torch's global generator.

    (``nn.utils.skip_init`` would build on the meta device, whose init imports
    ``torch._dynamo``: seconds per process.) The strategy initialises the weights.
    """

    def reset_parameters(self) -> None:
        return None


class _Embedding(_NoInit, nn.Embedding):
    pass


class _LSTMCell(_NoInit, nn.LSTMCell):
    pass


class _Linear(_NoInit, nn.Linear):
    pass


class _Network(nn.Module):
    """Embedding of the previous token, one LSTM cell, a shared head over options."""

    def __init__(self, n_options: int, hidden_size: int, generator: torch.Generator) -> None:
        super().__init__()
        self.embedding = _Embedding(n_options + 1, hidden_size)  # the last token starts
        self.cell = _LSTMCell(hidden_size, hidden_size)
        self.head = _Linear(hidden_size, n_options)
        self.start_token = n_options
        with torch.no_grad():
            for param in self.parameters():
                param.uniform_(-INIT_RANGE, INIT_RANGE, generator=generator)

    def step(
        self, token: int, state: tuple[torch.Tensor, torch.Tensor] | None, n: int
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits over the first ``n`` options after reading ``token``; the new state."""
        h, c = self.cell(self.embedding.weight[token : token + 1], state)
        return self.head(h)[0, :n], (h, c)


class _Adam:
    """Adam (Kingma & Ba, 2015) exactly as ``torch.optim.Adam`` computes it, for a few tensors.

    Not a ``torch.optim.Optimizer``: building one imports ``torch._dynamo`` (seconds
    per process), and torch's ``sqrt`` over more than 2,048 elements runs on several
    threads, whose synchronisation on a busy machine costs milliseconds for a 128 x 32
    LSTM weight; here square roots run on slices of at most 2,048 elements.
    """

    def __init__(self, params: list[nn.Parameter], lr: float) -> None:
        self.params = params
        self.lr, self.betas, self.eps = lr, (0.9, 0.999), 1e-8
        self.step_count = 0
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.step_count = t = self.step_count + 1
        (beta1, beta2), lr, eps = self.betas, self.lr, self.eps
        root_bc2, step_size = math.sqrt(1 - beta2**t), lr / (1 - beta1**t)
        for param, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq, strict=True):
            grad = param.grad
            if grad is None:
                continue
            m.lerp_(grad, 1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = torch.empty_like(v)
            flat_v, flat_d = v.view(-1), denom.view(-1)
            parts = (torch.split(flat_v, 2048), torch.split(flat_d, 2048))
            for part, out in zip(*parts, strict=True):
                torch.sqrt(part, out=out)
            param.addcdiv_(m, denom.div_(root_bc2).add_(eps), value=-step_size)

    def state_dict(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "step": self.step_count,
            "exp_avg": [m.clone() for m in self.exp_avg],
            "exp_avg_sq": [v.clone() for v in self.exp_avg_sq],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lr, self.step_count = float(state["lr"]), int(state["step"])
        for mine, theirs in zip(
            self.exp_avg + self.exp_avg_sq, state["exp_avg"] + state["exp_avg_sq"], strict=True
        ):
            mine.copy_(theirs)


@STRATEGIES.register("lstm")
class LSTMController(Strategy):
    """An autoregressive LSTM policy over the decisions, trained by REINFORCE.

    Logits are ``tanh_constant * tanh(head(h) / temperature)`` as in ENAS, which
    bounds how sure the policy can become. A told score gives the loss
    ``-(score - baseline) * log p(tokens) - entropy_weight * entropy``, one Adam step;
    the baseline is a bias-corrected exponential moving average, updated with the
    score first (as NATS-Bench's REINFORCE). Failed results are skipped.

    Args:
        space: a space whose decisions are all finite (Choice, Int).
        hidden_size: LSTM width (Zoph & Le used 35 units; 32 keeps an ask ~1 ms).
        learning_rate: Adam step size (ENAS: 0.0035).
        momentum: decay of the moving-average baseline, in [0, 1).
        entropy_weight: weight of the entropy bonus (ENAS: 1e-4), >= 0.
        temperature: divides the head's output before the tanh (> 0).
        tanh_constant: bound on the logits (ENAS macro search: 1.5); None for none.
        seed: fixes the search.

    Raises:
        ConfigError: naming the option for a bad value, or ``space`` when the space
            has a Real decision or a decision with more than 4096 options.

    Example:
        >>> from archsearch.spaces import nb201_space
        >>> strategy = LSTMController(nb201_space(), seed=0)
        >>> len(strategy.ask().config)
        6
    """

    def __init__(
        self,
        space: Space,
        *,
        hidden_size: int = 32,
        learning_rate: float = 0.0035,  # ENAS controller learning rate
        momentum: float = 0.9,  # NATS-Bench's REINFORCE baseline momentum
        entropy_weight: float = 1e-4,  # ENAS controller entropy weight
        temperature: float = 1.0,
        tanh_constant: float | None = 1.5,  # ENAS macro search
        seed: int | None = None,
    ) -> None:
        n_options = _check_space(space)
        _check_options(hidden_size, learning_rate, momentum, entropy_weight, temperature)
        if tanh_constant is not None and not (_is_number(tanh_constant) and tanh_constant > 0):
            raise ConfigError(
                f"tanh_constant: must be a number > 0 or None, got {tanh_constant!r}"
            )
        super().__init__(space, seed=seed)
        self.hidden_size = hidden_size
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.entropy_weight = float(entropy_weight)
        self.temperature = float(temperature)
        self.tanh_constant = None if tanh_constant is None else float(tanh_constant)
        self.generator = torch.Generator().manual_seed(self.rng.getrandbits(63))
        self.network = _Network(n_options, hidden_size, self.generator)
        self.optimizer = _Adam(list(self.network.parameters()), self.learning_rate)
        self._pending: dict[int, list[tuple[int, int]]] = {}  # id -> [(n_options, index)]
        self._numerator = 0.0  # the baseline is numerator / denominator (bias-corrected)
        self._denominator = 0.0

    # -- policy -------------------------------------------------------------------------
    def _logits(self, raw: torch.Tensor) -> torch.Tensor:
        if self.temperature != 1.0:
            raw = raw / self.temperature
        if self.tanh_constant is not None:
            raw = self.tanh_constant * torch.tanh(raw)
        return raw

    def ask(self) -> Candidate:
        network, generator = self.network, self.generator
        chosen: list[tuple[int, int]] = []
        state: list[Any] = [network.start_token, None]  # previous token, LSTM state

        def choose(path: str, n: int | None, domain: Any) -> int:
            raw, state[1] = network.step(state[0], state[1], n)  # type: ignore[arg-type]
            probs = torch.softmax(self._logits(raw), dim=0)
            index = int(torch.multinomial(probs, 1, generator=generator))
            chosen.append((n, index))  # type: ignore[arg-type]
            state[0] = index
            return index

        with torch.no_grad():
            config = self.space.decide(choose)
        candidate = self._propose(config)
        self._pending[candidate.id] = chosen
        return candidate

    def _log_prob_and_entropy(self, chosen: list[tuple[int, int]]) -> tuple[Any, Any]:
        """Sum of log-probabilities and of entropies of a token sequence (with gradients)."""
        network = self.network
        token, state = network.start_token, None
        log_prob: Any = 0.0
        entropy: Any = 0.0
        for n, index in chosen:
            raw, state = network.step(token, state, n)
            log_p = torch.log_softmax(self._logits(raw), dim=0)
            log_prob = log_prob + log_p[index]
            entropy = entropy - (log_p.exp() * log_p).sum()
            token = index
        return log_prob, entropy

    # -- tell ---------------------------------------------------------------------------
    def tell(self, candidate: Candidate, result: Result) -> None:
        chosen = self._pending.pop(candidate.id, None)
        score = result.score
        if score is None:
            return
        if chosen is None:  # not asked by this strategy: read its genome
            chosen = [(int(n), int(i)) for _, i, n in self.space.genome(candidate.config)]  # type: ignore[arg-type]
        momentum = self.momentum
        self._numerator = momentum * self._numerator + (1.0 - momentum) * score
        self._denominator = momentum * self._denominator + (1.0 - momentum)
        advantage = score - self._numerator / self._denominator
        if not chosen:
            return
        log_prob, entropy = self._log_prob_and_entropy(chosen)
        loss = -advantage * log_prob - self.entropy_weight * entropy
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    # -- inspection and state -----------------------------------------------------------
    def probabilities(self, prefix: list[int], n_options: int) -> list[float]:
        """The distribution of the next decision (``n_options`` wide) after ``prefix``."""
        network = self.network
        token, state = network.start_token, None
        with torch.no_grad():
            for index in prefix:
                _, state = network.step(token, state, 1)
                token = index
            raw, _ = network.step(token, state, n_options)
            return [float(p) for p in torch.softmax(self._logits(raw), dim=0)]

    @property
    def baseline(self) -> float | None:
        """The moving-average baseline, or None before the first score."""
        return self._numerator / self._denominator if self._denominator else None

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "network": _encode(self.network.state_dict()),
            "optimizer": _encode(self.optimizer.state_dict()),
            "generator": self.generator.get_state().tolist(),
            "baseline": [self._numerator, self._denominator],
            "pending": [[cid, [list(c) for c in chosen]] for cid, chosen in self._pending.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.network.load_state_dict(_decode(state["network"]))
        self.optimizer.load_state_dict(_decode(state["optimizer"]))
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self._numerator, self._denominator = (float(x) for x in state["baseline"])
        self._pending = {
            int(cid): [(int(n), int(i)) for n, i in chosen] for cid, chosen in state["pending"]
        }


# -- JSON for tensors and the optimizer's int-keyed state ------------------------------
def _encode(value: Any) -> Any:
    """Tensors to ``{"$tensor": base64 of the raw bytes, "dtype", "shape"}``.

    Raw bytes keep checkpoints exact and about a quarter of the size of nested lists
    (a checkpoint is written with every finished trial). Other-keyed dicts become
    ``$items``.
    """
    if isinstance(value, torch.Tensor):
        array = value.detach().cpu().contiguous().numpy()
        return {
            "$tensor": base64.b64encode(array.tobytes()).decode("ascii"),
            "dtype": str(array.dtype),
            "shape": list(array.shape),
        }
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"$items": [[k, _encode(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$tensor" in value:
            raw = base64.b64decode(value["$tensor"])
            array = np.frombuffer(raw, dtype=value["dtype"]).reshape(value["shape"]).copy()
            return torch.from_numpy(array)
        if "$items" in value:
            return {k: _decode(v) for k, v in value["$items"]}
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


# -- validation -----------------------------------------------------------------------
def _check_space(space: Space) -> int:
    """The largest number of options of any decision (the head's width)."""
    if not space.is_finite:
        raise ConfigError(
            "space: lstm needs finite decisions (Choice, Int); this space has a Real"
        )
    widest = max(1, _widest(space.to_json()["root"]))
    if widest > MAX_OPTIONS:
        raise ConfigError(
            f"space: lstm allows at most {MAX_OPTIONS} options per decision, got {widest}"
        )
    return widest


def _widest(node: Any) -> int:
    """The most options of any decision in a node's JSON (see ``Node.to_json``)."""
    if isinstance(node, list):
        return max((_widest(v) for v in node), default=0)
    if not isinstance(node, dict) or "$fixed" in node:
        return 0
    if "$choice" in node:
        return max(len(node["$choice"]), *(_widest(o) for o in node["$choice"]))
    if "$int" in node:
        low, high = node["$int"]
        return int(high) - int(low) + 1
    return max((_widest(v) for v in node.values()), default=0)


def _check_options(
    hidden_size: Any, learning_rate: Any, momentum: Any, entropy_weight: Any, temperature: Any
) -> None:
    if not isinstance(hidden_size, int) or isinstance(hidden_size, bool) or hidden_size < 1:
        raise ConfigError(f"hidden_size: must be an integer >= 1, got {hidden_size!r}")
    if not _is_number(learning_rate) or not learning_rate > 0:
        raise ConfigError(f"learning_rate: must be a finite number > 0, got {learning_rate!r}")
    if not _is_number(momentum) or not 0 <= momentum < 1:
        raise ConfigError(f"momentum: must be a number in [0, 1), got {momentum!r}")
    if not _is_number(entropy_weight) or entropy_weight < 0:
        raise ConfigError(f"entropy_weight: must be a number >= 0, got {entropy_weight!r}")
    if not _is_number(temperature) or not temperature > 0:
        raise ConfigError(f"temperature: must be a number > 0, got {temperature!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
