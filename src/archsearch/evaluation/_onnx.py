"""ONNX surrogate models run with onnxruntime: one session per model file and process.

Some YAHPO models (NB301) were exported with a batch size fixed at 1, so that
onnxruntime refuses a batch of rows. Their graphs never depend on that size (they read
it with ``Shape``), so on loading we rename the first dimension of every graph input
and output to a free one, ``batch``. The edit is made on the serialised protobuf in
memory: the shipped file stays a byte-for-byte copy of YAHPO's, and archsearch needs
neither the ``onnx`` package nor its schema. Predictions are unchanged row by row.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archsearch.errors import DataError

__all__ = ["dynamic_batch", "load_session"]

# Protobuf field numbers from onnx.proto (ModelProto.graph = 7, GraphProto.input = 11,
# .output = 12, ValueInfoProto.type = 2, TypeProto.tensor_type = 1, Tensor.shape = 2,
# TensorShapeProto.dim = 1, Dimension.dim_param = 2).
_GRAPH, _INPUT, _OUTPUT, _TYPE, _TENSOR, _SHAPE, _DIM, _DIM_PARAM = 7, 11, 12, 2, 1, 2, 1, 2
_LENGTH_DELIMITED = 2


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _rewrite(buf: bytes, edits: dict[int, Callable[[bytes], bytes]], *, first: bool) -> bytes:
    """``buf`` with the payload of each length-delimited field in ``edits`` replaced.

    With ``first``, only the first occurrence of an edited field is replaced.
    """
    out, pos, done = bytearray(), 0, set()
    while pos < len(buf):
        start = pos
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            pos = _read_varint(buf, pos)[1]
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == _LENGTH_DELIMITED:
            size, begin = _read_varint(buf, pos)
            pos = begin + size
            edit = edits.get(number)
            if edit is not None and number not in done:
                out += _field(number, edit(buf[begin:pos]))
                if first:
                    done.add(number)
                continue
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out += buf[start:pos]
    if pos != len(buf):
        raise ValueError("truncated protobuf message")
    return bytes(out)


def dynamic_batch(model: bytes) -> bytes:
    """The serialised ONNX ``model`` with a free first dimension on its inputs/outputs."""

    def nested(*numbers: int) -> Callable[[bytes], bytes]:
        if not numbers:
            return lambda _: _field(_DIM_PARAM, b"batch")  # the new Dimension
        edit, is_last = nested(*numbers[1:]), len(numbers) == 1
        return lambda buf: _rewrite(buf, {numbers[0]: edit}, first=is_last)  # 1st dim only

    value_info = nested(_TYPE, _TENSOR, _SHAPE, _DIM)
    graph = functools.partial(_rewrite, edits={_INPUT: value_info, _OUTPUT: value_info})
    return _rewrite(model, {_GRAPH: lambda buf: graph(buf, first=False)}, first=False)


def load_session(path: str) -> Any:
    """The onnxruntime session of the model at ``path``, built once per process.

    Raises:
        DataError: naming the file when it is missing or not a loadable ONNX model.
    """
    return _session(path, os.getpid())  # a forked worker builds its own


@functools.lru_cache(maxsize=8)
def _session(path: str, pid: int) -> Any:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: surrogate model not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the surrogate model ({exc})") from None
    import onnxruntime as ort  # imported on first use: it is slow to import

    options = ort.SessionOptions()
    # one thread: queries are small, and searches run many workers side by side
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        model = dynamic_batch(raw)
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's errors derive from Exception only
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a loadable ONNX model ({reason})") from None
