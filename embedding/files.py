"""Embedding files of any size: text or JSON lines in, a float32 `.npy` out, streamed.

`embed_file(input, output, export_dir)` counts the lines, then reads
`chunk_lines` at a time, embeds each chunk with `Embedder` (sorted by length)
and writes its rows into a memory-mapped `.npy` at their line numbers; the
output appears only when complete (`bert_tf.atomic`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import time
from collections.abc import Iterator

import numpy as np
from absl import logging

from bert_tf import atomic
from bert_tf.embedding.embedder import ProgressFn, _check_options, load
from bert_tf.embedding.options import DEFAULTS, EmbedError
from bert_tf.errors import OutputError


class LogProgress:
    """Logs `done/total lines` at most every `every_s` seconds, and at the end."""

    def __init__(self, every_s: float = 5.0):
        self.every_s = every_s
        self.started = time.perf_counter()
        self.last = self.started

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        logging.info(
            "embedded %d/%d lines (%.0f%%, %.0f lines/s)", done, total, 100.0 * done / total, rate
        )


@dataclasses.dataclass(frozen=True)
class EmbedFileResult:
    """What `embed_file` wrote: `count` vectors of width `dim` to `output`."""

    output: pathlib.Path
    count: int
    dim: int
    seconds: float


def count_lines(path: pathlib.Path) -> int:
    """Lines in `path` as `read_lines` yields them (a last line without a newline counts)."""
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def read_lines(path: pathlib.Path, json_field: str | None = None) -> Iterator[str]:
    """Yields the text of each line of `path`, one per line, never the whole file.

    Plain text: the line without its line ending. JSON lines: the string at
    `json_field` of each line's object. A blank line is the empty text in both
    modes, so that line `i` always gives vector `i`.

    Raises:
      EmbedError: a line is not UTF-8, not JSON, or lacks a string `json_field`,
        naming the file and line number.
    """
    try:
        f = open(path, "rb")
    except OSError as e:
        raise EmbedError(f"input {path}: cannot read ({e.strerror})") from None
    with f:
        for number, raw in enumerate(f, start=1):
            yield parse_line(raw, json_field, path, number)


def parse_line(raw: bytes, json_field: str | None, path, number: int) -> str:
    """The text of one raw line (with or without its line ending), as `read_lines` yields it.

    Args:
      raw: the line's bytes.
      json_field: None for plain text; else the JSON lines field to embed.
      path: the file, for messages (a path or a URL).
      number: the line's 1-based number, for messages.

    Raises:
      EmbedError: the line is not UTF-8, not JSON, or lacks a string `json_field`,
        naming `path` and `number`.
    """
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise EmbedError(
            f"{path}:{number}: not valid UTF-8 ({e.reason} at byte {e.start})"
        ) from None
    if json_field is None:
        return line
    if not line.strip():
        return ""
    return _json_text(line, json_field, path, number)


def _json_text(line: str, field: str, path, number: int) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise EmbedError(
            f"{path}:{number}: not a JSON line ({e.msg} at column {e.colno})"
        ) from None
    if not isinstance(record, dict) or field not in record:
        raise EmbedError(
            f"{path}:{number}: expected a JSON object with field {field!r}, "
            f"found {_describe(record)}"
        )
    text = record[field]
    if not isinstance(text, str):
        raise EmbedError(
            f"{path}:{number}: field {field!r}: expected a string, found {type(text).__name__}"
        )
    return text


def _describe(record) -> str:
    if isinstance(record, dict):
        keys = ", ".join(repr(k) for k in list(record)[:5])
        return f"an object with fields {keys}" if keys else "an empty object"
    return f"a JSON {type(record).__name__}"


def _chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def embed_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    export_dir: str | os.PathLike,
    *,
    pooling: str | None = DEFAULTS.pooling,
    normalize: bool | None = DEFAULTS.normalize,
    prompt_name: str | None = DEFAULTS.prompt_name,
    batch_size: int = DEFAULTS.batch_size,
    max_seq_length: int | None = DEFAULTS.max_seq_length,
    json_field: str | None = DEFAULTS.json_field,
    chunk_lines: int = DEFAULTS.chunk_lines,
    progress: ProgressFn | None = None,
) -> EmbedFileResult:
    """Embeds every line of a text or JSON-lines file into a float32 `.npy`.

    Streams: a first pass counts the lines, then chunks of `chunk_lines`
    lines are read, sorted by length, embedded and written into the `.npy`
    (memory-mapped) at their line numbers; memory stays at one chunk whatever
    the file's size. The output appears only when complete (written beside it
    under a temporary name, then renamed).

    Args:
      input_path: UTF-8 text, one text per line; or JSON lines with `json_field`.
      output_path: the `.npy` to write, float32 `[lines, hidden]`, row `i` for line `i`.
      export_dir, pooling, normalize, prompt_name, batch_size, max_seq_length: as
        for `embed` (by default the export's own pooling stack).
      json_field: read each line as a JSON object and embed this field.
      chunk_lines: lines read, sorted and embedded at a time.
      progress: called as `progress(lines_done, lines_total)` after each batch.

    Returns:
      `EmbedFileResult`.

    Raises:
      EmbedError: a missing or unreadable input, a bad line (file and line
        number), an unwritable output, or a bad argument.
    """
    _check_options(pooling, batch_size)
    if chunk_lines < 1:
        raise EmbedError(f"chunk_lines: expected an int >= 1, found {chunk_lines!r}")
    input_path, output_path = pathlib.Path(input_path), pathlib.Path(output_path)
    if not input_path.is_file():
        raise EmbedError(f"input {input_path}: no such file")
    if not output_path.parent.is_dir():
        raise EmbedError(f"output {output_path}: folder {output_path.parent} does not exist")
    embedder = load(export_dir)
    seq_length = embedder.check_seq_length(max_seq_length)
    started = time.perf_counter()
    try:
        total = count_lines(input_path)
    except OSError as e:
        raise EmbedError(f"input {input_path}: cannot read ({e.strerror})") from None
    options = dict(pooling=pooling, normalize=normalize, prompt_name=prompt_name)
    dim = int(embedder.embed([""], **options).shape[1])  # the width of these options' stack
    try:
        with atomic.atomic_file(output_path) as tmp:
            if total == 0:
                # A file object: given a path without `.npy`, np.save would add one.
                with open(tmp, "wb") as f:
                    np.save(f, np.zeros((0, dim), np.float32), allow_pickle=False)
            else:
                _embed_lines(
                    embedder,
                    input_path,
                    tmp,
                    total,
                    dim,
                    json_field,
                    chunk_lines,
                    progress,
                    **options,
                    batch_size=batch_size,
                    max_seq_length=seq_length,
                )
    except OutputError as error:
        raise EmbedError(f"output {output_path}: {error}") from None
    return EmbedFileResult(output_path, total, dim, time.perf_counter() - started)


def _embed_lines(
    embedder,
    input_path: pathlib.Path,
    tmp: pathlib.Path,
    total: int,
    dim: int,
    json_field: str | None,
    chunk_lines: int,
    progress: ProgressFn | None,
    **embed_options,
) -> None:
    """Embeds the `total` lines of `input_path` chunk by chunk into the `.npy` at `tmp`."""
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(total, dim))
    done = 0
    for chunk in _chunks(read_lines(input_path, json_field), chunk_lines):
        if done + len(chunk) > total:
            raise EmbedError(f"input {input_path}: grew while being read (counted {total} lines)")
        base = done
        out[base : base + len(chunk)] = embedder.embed(
            chunk,
            **embed_options,
            progress=None
            if progress is None
            else (lambda n, _, base=base: progress(base + n, total)),
        )
        done += len(chunk)
    if done != total:
        raise EmbedError(
            f"input {input_path}: shrank while being read (counted {total} lines, read {done})"
        )
    out.flush()
