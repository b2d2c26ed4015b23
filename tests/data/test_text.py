"""The word tokeniser and the ``fortunes`` topic dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch.data import DATA_ENV, WordTokenizer, get_dataset, read_fortunes
from archsearch.data import _text as text
from archsearch.data._text import FORTUNE_TOPICS, FORTUNES_DIR
from archsearch.errors import ConfigError, DataError


def test_tokenizer_ranks_words_by_document_frequency_then_alphabetically() -> None:
    texts = ["b a a", "c b", "b, A!", "d"]
    tok = WordTokenizer.fit(texts, vocab_size=5, max_len=5)
    assert tok.vocabulary == ("b", "a", "c")  # b: 3 texts, a: 2, then c before d
    assert tok.encode(["A b zebra c", ""]).tolist() == [[3, 2, 1, 4, 0], [0, 0, 0, 0, 0]]
    again = WordTokenizer.fit(list(reversed(texts)), vocab_size=5, max_len=5)
    assert again.vocabulary == tok.vocabulary  # the order of the texts does not matter


def test_tokenizer_cuts_long_texts_and_keeps_a_fixed_vocabulary_size() -> None:
    tok = WordTokenizer.fit(["one two three four"], vocab_size=100, max_len=2)
    assert tok.vocab_size == 100 and len(tok.vocabulary) == 4
    out = tok.encode(["four three two one"])
    assert out.dtype == np.int64 and out.shape == (1, 2) and int(out.max()) < 100


def test_tokenizer_rejects_sizes_that_do_not_fit() -> None:
    with pytest.raises(ConfigError, match="vocab_size: must be an integer >= 2"):
        WordTokenizer.fit(["a"], vocab_size=1, max_len=3)
    with pytest.raises(ConfigError, match="max_len: must be an integer >= 1"):
        WordTokenizer(["a"], vocab_size=4, max_len=0)
    with pytest.raises(ConfigError, match=r"vocab_size: must be an integer >= 4 \(the words"):
        WordTokenizer(["a", "b"], vocab_size=3, max_len=2)


def test_fortune_files_are_split_on_percent_lines(tmp_path: Path) -> None:
    file = tmp_path / "topic"
    file.write_bytes(b"First one.\n\t-- Someone\n%\n_\x08b_\x08o_\x08l_\x08d word\n%\n%\n  \n")
    assert read_fortunes(file) == ["First one.\n\t-- Someone", "bold word"]


def _fake_fortunes(folder: Path, per_topic: int = 120) -> Path:
    """Topic files whose fortunes hold a topic word, common words and one unique word."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, topic in enumerate(FORTUNE_TOPICS):
        fortunes = [f"the {topic} said unique{t}x{i} to all" for i in range(per_topic)]
        (folder / topic).write_text("\n%\n".join(fortunes) + "\n%\n")
    return folder


def test_vocabulary_comes_from_the_training_split_only(tmp_path: Path) -> None:
    data = get_dataset("fortunes", path=_fake_fortunes(tmp_path))
    assert data.builder_options() == {"vocab_size": 4096, "max_len": 64, "n_classes": 10}
    assert (len(data.train_y), len(data.valid_y), len(data.test_y)) == (200, 500, 500)
    assert data.train_x.dtype == torch.int64 and data.train_x.shape == (200, 64)
    # every fortune's unique word is known only if that fortune is in the training split
    assert not (data.train_x == 1).any()
    assert ((data.valid_x == 1).sum(1) == 1).all() and ((data.test_x == 1).sum(1) == 1).all()
    assert (data.train_x[:, 6:] == 0).all() and (data.train_x[:, :6] > 1).all()  # 6 words


def test_splits_and_ids_are_fixed_by_the_split_seed(tmp_path: Path) -> None:
    path = _fake_fortunes(tmp_path)
    a, b = (get_dataset("fortunes", path=path, split_seed=3) for _ in range(2))
    c = get_dataset("fortunes", path=path, split_seed=4)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)
    sub = get_dataset("fortunes", path=path, split_seed=3, subset=50)
    assert len(sub.train_y) == 50 and torch.equal(sub.test_y, a.test_y[:50])


def test_fortunes_keep_at_most_400_per_topic(tmp_path: Path) -> None:
    path = _fake_fortunes(tmp_path, per_topic=450)
    raw = text.load_fortunes(path)
    assert np.bincount(raw.labels).tolist() == [400] * 10
    assert raw.images[0] == "the art said unique0x0 to all"
    assert raw.images[399] == "the art said unique0x449 to all"  # evenly spaced, both ends


def test_missing_topic_file_names_the_places_and_the_apt_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    monkeypatch.setattr(text, "FORTUNES_DIR", tmp_path / "games")
    with pytest.raises(DataError, match="fortunes: topic file 'art' not found in") as info:
        get_dataset("fortunes")
    message = str(info.value)
    assert "\n" not in message and "apt-get install fortunes" in message
    for place in ("env/fortunes", "env,", str(tmp_path / "games")):
        assert place in message


def test_a_partial_folder_names_the_missing_topic(tmp_path: Path) -> None:
    path = _fake_fortunes(tmp_path)
    (path / "law").unlink()
    with pytest.raises(DataError, match=rf"topic file 'law' not found in {tmp_path}, "):
        get_dataset("fortunes", path=path)


@pytest.mark.skipif(
    not (FORTUNES_DIR / "computers").is_file(),
    reason="Debian's fortunes package is not installed (apt-get install fortunes)",
)
def test_real_fortunes_have_ten_balanced_topics() -> None:
    data = get_dataset("fortunes")
    assert (len(data.train_y), len(data.valid_y), len(data.test_y)) == (1712, 500, 500)
    assert data.num_classes == 10 and data.train_x.shape[1] == 64
    counts = torch.bincount(torch.cat([data.train_y, data.valid_y, data.test_y]))
    assert counts.max() == 400 and counts.min() >= 140

    def unknown(x: torch.Tensor) -> float:
        return float((x == 1).sum() / (x > 0).sum())

    # the vocabulary is the training split's: its words are known more often there
    assert 0.05 < unknown(data.train_x) < 0.14 < unknown(data.test_x) < 0.25
