"""Text classification data: a word tokeniser and the ``fortunes`` topic dataset.

:class:`WordTokenizer` is deliberately simple and deterministic: lower-cased words
(runs of ``a-z``, ``0-9`` and ``'``), a vocabulary of the most frequent words of the
texts it is fitted on (document frequency, ties in alphabetical order), id 0 for
padding and 1 for unknown words, every text cut or padded to ``max_len`` ids.

``fortunes`` classifies a fortune cookie by the topic file it comes from, among ten
topic files of Debian's ``fortunes`` package (``/usr/share/games/fortunes``). A linear
bag-of-words classifier reaches about 45 % test accuracy on it (majority class 15 %):
real text with a topic signal that is far from trivial. The tokeniser is fitted on the
training split only, after the seeded split (see ``RawData.fit_encoder``).

Example:
    >>> tok = WordTokenizer.fit(["the cat sat", "the dog"], vocab_size=6, max_len=4)
    >>> tok.encode(["The cat ran"]).tolist()
    [[2, 3, 1, 0]]
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from archsearch.data._datasets import DATASETS, RawData
from archsearch.data._files import DATA_ENV, find_file, search_places
from archsearch.errors import ConfigError, DataError

__all__ = [
    "FORTUNE_TOPICS",
    "FORTUNES_DIR",
    "PAD_ID",
    "UNK_ID",
    "WordTokenizer",
    "load_fortunes",
    "read_fortunes",
]

#: the id of padding, and of a word outside the vocabulary
PAD_ID, UNK_ID = 0, 1
#: where Debian's ``fortunes`` package installs its topic files
FORTUNES_DIR = Path("/usr/share/games/fortunes")
#: the topic files that are the classes, in label order (each has 147 to 1,050 fortunes)
FORTUNE_TOPICS = (
    "art",
    "computers",
    "drugs",
    "education",
    "food",
    "law",
    "love",
    "politics",
    "science",
    "sports",
)
#: fortunes kept per topic (evenly spaced through the file), so that classes stay balanced
FORTUNES_PER_TOPIC = 400
#: vocabulary size (pad and unknown included) and tokens per text of ``fortunes``
FORTUNES_VOCAB, FORTUNES_MAX_LEN = 4096, 64

_WORD = re.compile(r"[a-z0-9']+")
_OVERSTRIKE = re.compile(r".\x08")  # "_\bA": underlining by backspace in old fortune files


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``."""
    return _WORD.findall(text.lower())


class WordTokenizer:
    """Words -> fixed-length id sequences, with a vocabulary fitted on given texts.

    Args:
        vocabulary: the words, most frequent first; word ``i`` gets id ``i + 2``.
        vocab_size: the number of ids (pad and unknown included); at least
            ``len(vocabulary) + 2`` (ids of no word stay unused).
        max_len: ids per encoded text.

    Raises:
        ConfigError: for sizes that do not fit.
    """

    def __init__(self, vocabulary: Sequence[str], *, vocab_size: int, max_len: int) -> None:
        if not isinstance(max_len, int) or max_len < 1:
            raise ConfigError(f"max_len: must be an integer >= 1, got {max_len!r}")
        if not isinstance(vocab_size, int) or vocab_size < len(vocabulary) + 2:
            raise ConfigError(
                f"vocab_size: must be an integer >= {len(vocabulary) + 2} "
                f"(the words plus pad and unknown), got {vocab_size!r}"
            )
        self.vocabulary = tuple(vocabulary)
        self.vocab_size, self.max_len = vocab_size, max_len
        self._ids = {w: i + 2 for i, w in enumerate(self.vocabulary)}

    @classmethod
    def fit(cls, texts: Iterable[str], *, vocab_size: int, max_len: int) -> WordTokenizer:
        """The ``vocab_size - 2`` words found in most of ``texts`` (ties alphabetically).

        Raises:
            ConfigError: when ``vocab_size < 2``.
        """
        if not isinstance(vocab_size, int) or vocab_size < 2:
            raise ConfigError(f"vocab_size: must be an integer >= 2, got {vocab_size!r}")
        counts = collections.Counter(w for text in texts for w in set(words(text)))
        ranked = sorted(counts, key=lambda w: (-counts[w], w))[: vocab_size - 2]
        return cls(ranked, vocab_size=vocab_size, max_len=max_len)

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        """int64 ids ``(N, max_len)``: the first ``max_len`` words, then padding."""
        texts = list(texts)
        out = np.full((len(texts), self.max_len), PAD_ID, dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self._ids.get(w, UNK_ID) for w in words(text)[: self.max_len]]
            out[row, : len(ids)] = ids
        return out

    def __call__(self, texts: Iterable[str]) -> np.ndarray:
        return self.encode(texts)

    def __repr__(self) -> str:
        return (
            f"WordTokenizer({len(self.vocabulary)} words, vocab_size={self.vocab_size}, "
            f"max_len={self.max_len})"
        )


def read_fortunes(path: str | Path) -> list[str]:
    """The fortunes of a fortune file (``%`` lines separate them), non-empty ones only.

    Raises:
        DataError: naming the file when it cannot be read.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read fortune file ({exc})") from None
    text = _OVERSTRIKE.sub("", raw.decode("utf-8", errors="replace"))
    parts = re.split(r"^%[ \t]*$", text, flags=re.MULTILINE)
    return [p.strip() for p in parts if words(p)]


def _fortune_places(path: str | Path | None) -> list[Path]:
    places = search_places("fortunes", path)
    if path is None:  # the last place is Debian's datasets/; fortunes live under games/
        places[-1] = FORTUNES_DIR
    return places


def _fit_fortunes_tokenizer(train_texts: np.ndarray) -> WordTokenizer:
    return WordTokenizer.fit(
        (str(t) for t in train_texts), vocab_size=FORTUNES_VOCAB, max_len=FORTUNES_MAX_LEN
    )


@DATASETS.register("fortunes")
def load_fortunes(path: str | Path | None = None) -> RawData:
    """Topic classification of fortune cookies: ten classes (:data:`FORTUNE_TOPICS`).

    Reads the topic files from ``path`` (or ``path/fortunes``), else
    ``$ARCHSEARCH_DATA`` (with or without ``fortunes/``), else ``/usr/share/games/fortunes``
    where Debian's ``fortunes`` package installs them. At most 400 fortunes per topic
    (evenly spaced through its file), 2,712 in all; 500 form the test split and 500 the
    validation split. Inputs are token ids ``(N, 64)`` from a :class:`WordTokenizer`
    with 4,096 ids fitted on the training split only.

    Raises:
        DataError: one line naming the missing file, the places looked in and how to
            install it.
    """
    places = _fortune_places(path)
    texts: list[str] = []
    labels: list[int] = []
    for label, topic in enumerate(FORTUNE_TOPICS):
        found = find_file([topic], places)
        if found is None:
            looked = ", ".join(str(p) for p in places)
            raise DataError(
                f"fortunes: topic file {topic!r} not found in {looked}; install it with "
                f"`apt-get install fortunes` or set {DATA_ENV} to a folder holding fortunes/"
            )
        fortunes = read_fortunes(found)
        if len(fortunes) < 10:
            raise DataError(f"{found}: expected a fortune file, found {len(fortunes)} fortunes")
        keep = np.unique(np.linspace(0, len(fortunes) - 1, FORTUNES_PER_TOPIC).round())
        texts += [fortunes[int(i)] for i in keep]
        labels += [label] * len(keep)
    return RawData(
        np.array(texts, dtype=object),
        np.array(labels, dtype=np.int64),
        None,
        None,
        num_classes=len(FORTUNE_TOPICS),
        n_valid=500,
        n_test=500,
        model_options={"vocab_size": FORTUNES_VOCAB, "max_len": FORTUNES_MAX_LEN},
        fit_encoder=_fit_fortunes_tokenizer,
    )
