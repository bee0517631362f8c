"""Readers for the files NLI data comes in.

Three layouts are recognised, by content rather than by file name:

* **JSON lines** (MultiNLI, SNLI, XNLI ``*.jsonl``): one object per line with
  ``sentence1``, ``sentence2`` and ``gold_label`` (``premise`` / ``hypothesis`` /
  ``label`` are accepted too, as written by Hugging Face ``datasets``).
* **TSV with a header** (GLUE ``MNLI/train.tsv``, ``snli_1.0_train.txt``,
  ``xnli.dev.tsv``, XNLI-MT ``multinli.train.xx.tsv``): tab-separated, the first
  row names the columns; the premise is ``sentence1`` or ``premise``, the
  hypothesis ``sentence2``, ``hypothesis`` or ``hypo``, the label ``gold_label``
  (preferred) or ``label``. Any other column is ignored.
* **Plain TSV**: ``premise<TAB>hypothesis<TAB>label`` with no header. More text
  columns give more segments (``a<TAB>b<TAB>c<TAB>label``); every row of a file
  has the same number of columns.

Labels are strings from the label list (default ``entailment``, ``neutral``,
``contradiction``), or integer indices into it (``datasets`` exports). A row
with no gold label (``-``, empty, or ``-1``) is skipped and counted. XNLI-MT's
``contradictory`` reads as ``contradiction``. Any other problem raises
:class:`DataError` whose message names the file and line.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "dev.tsv")
>>> with open(path, "w") as f:
...     _ = f.write("A dog runs.\\tAn animal runs.\\tentailment\\n"
...                 "A dog runs.\\tA cat sleeps.\\t-\\n")
>>> data = read_nli(path)
>>> data.format, len(data.examples), data.skipped
('plain_tsv', 1, 1)
>>> data.examples[0]
NliExample(segments=('A dog runs.', 'An animal runs.'), label=0)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Sequence

from bert_tf.errors import BertTfError
from bert_tf.finetune.config import DEFAULT_LABELS

# Spellings of "no gold label": SNLI/MNLI write "-", `datasets` writes -1.
_NO_GOLD = frozenset({"-", "", "-1"})
# Label spellings used by some releases, mapped onto the standard names.
_LABEL_ALIASES = {"contradictory": "contradiction"}

_PREMISE_COLUMNS = ("sentence1", "premise")
_HYPOTHESIS_COLUMNS = ("sentence2", "hypothesis", "hypo")
_LABEL_COLUMNS = ("gold_label", "label")


class DataError(BertTfError, ValueError):
    """A data file that cannot be read; the message names file and line."""


@dataclasses.dataclass(frozen=True)
class NliExample:
    """One labelled example.

    Attributes:
      segments: the text segments, premise first (2 for NLI; 3 or more for
        multiple choice or premise + hypothesis + context).
      label: index into the label list.
    """

    segments: tuple[str, ...]
    label: int


@dataclasses.dataclass(frozen=True)
class NliData:
    """The examples of one file.

    Attributes:
      path: the file read.
      format: ``"jsonl"``, ``"header_tsv"`` or ``"plain_tsv"``.
      examples: the labelled examples, in file order.
      skipped: rows without a gold label (``-``), not in ``examples``.
      labels: the label list that ``NliExample.label`` indexes.
    """

    path: str
    format: str
    examples: tuple[NliExample, ...]
    skipped: int
    labels: tuple[str, ...]

    @property
    def num_segments(self) -> int:
        return len(self.examples[0].segments) if self.examples else 0


class _LabelMap:
    """Maps a label as written in a file to its index, or None for no gold."""

    def __init__(self, labels: Sequence[str]):
        self.labels = tuple(labels)
        self._index = {name: i for i, name in enumerate(self.labels)}

    def __call__(self, raw, where: str) -> int | None:
        if isinstance(raw, bool) or raw is None:
            raise DataError(f"{where}: label {raw!r} is not a string or integer")
        if isinstance(raw, int):
            raw = str(raw)
        if not isinstance(raw, str):
            raise DataError(f"{where}: label {raw!r} is not a string or integer")
        text = raw.strip()
        if text in _NO_GOLD:
            return None
        if text in self._index:
            return self._index[text]
        alias = _LABEL_ALIASES.get(text.lower())
        if alias in self._index:
            return self._index[alias]
        if text.isdigit() and int(text) < len(self.labels):
            return int(text)
        raise DataError(
            f"{where}: label {text!r} is not one of {', '.join(self.labels)} "
            f"(or an index 0..{len(self.labels) - 1}, or '-' for no gold label)"
        )


def _lines(path: str) -> Iterator[tuple[int, str]]:
    """Yields (1-based line number, line without its newline), skipping blank lines."""
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(
                        f"{path}:{number}: not valid UTF-8 ({e.reason} at byte {e.start})"
                    ) from None
                if number == 1:
                    line = line.removeprefix("\ufeff")
                line = line.rstrip("\r\n")
                if line.strip():
                    yield number, line
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a data file") from None


def _detect_format(first_line: str) -> str:
    if first_line.lstrip().startswith("{"):
        return "jsonl"
    columns = [c.strip().lower() for c in first_line.split("\t")]
    if any(c in columns for c in _PREMISE_COLUMNS) and any(
        c in columns for c in _HYPOTHESIS_COLUMNS
    ):
        return "header_tsv"
    return "plain_tsv"


def _first_present(keys: Sequence[str], candidates: Sequence[str]) -> str | None:
    return next((c for c in candidates if c in keys), None)


def _read_jsonl(path, lines, label_map):
    for number, line in lines:
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, found {type(row).__name__}")
        fields = []
        for candidates in (_PREMISE_COLUMNS, _HYPOTHESIS_COLUMNS, _LABEL_COLUMNS):
            key = _first_present(row.keys(), candidates)
            if key is None:
                raise DataError(
                    f"{where}: missing field {' or '.join(repr(c) for c in candidates)}"
                )
            fields.append(row[key])
        *segments, raw_label = fields
        for value in segments:
            if not isinstance(value, str):
                raise DataError(f"{where}: expected text, found {type(value).__name__} {value!r}")
        yield tuple(segments), label_map(raw_label, where)


def _read_header_tsv(path, lines, label_map):
    header_number, header = next(lines)
    columns = [c.strip().lower() for c in header.split("\t")]
    label_column = _first_present(columns, _LABEL_COLUMNS)
    if label_column is None:
        raise DataError(
            f"{path}:{header_number}: header has no label column "
            f"({' or '.join(_LABEL_COLUMNS)}); found {', '.join(columns)}"
        )
    wanted = [
        columns.index(_first_present(columns, _PREMISE_COLUMNS)),
        columns.index(_first_present(columns, _HYPOTHESIS_COLUMNS)),
        columns.index(label_column),
    ]
    for number, line in lines:
        where = f"{path}:{number}"
        cells = line.split("\t")
        if len(cells) <= max(wanted):
            raise DataError(
                f"{where}: expected {len(columns)} tab-separated columns "
                f"as in the header, found {len(cells)}"
            )
        premise, hypothesis, raw_label = (cells[i] for i in wanted)
        yield (premise, hypothesis), label_map(raw_label, where)


def _read_plain_tsv(path, lines, label_map):
    expected = None
    for number, line in lines:
        where = f"{path}:{number}"
        cells = line.split("\t")
        if expected is None:
            expected = len(cells)
            if expected < 3:
                raise DataError(
                    f"{where}: expected premise<TAB>hypothesis<TAB>label "
                    f"(at least 3 tab-separated columns), found {expected}"
                )
        elif len(cells) != expected:
            raise DataError(
                f"{where}: expected {expected} tab-separated columns "
                f"as on the first row, found {len(cells)}"
            )
        yield tuple(cells[:-1]), label_map(cells[-1], where)


_READERS = {"jsonl": _read_jsonl, "header_tsv": _read_header_tsv, "plain_tsv": _read_plain_tsv}


def read_nli(path: str | os.PathLike, labels: Sequence[str] = DEFAULT_LABELS) -> NliData:
    """Reads one NLI file in any of the layouts of this module.

    Args:
      path: a JSON lines, header TSV or plain TSV file (UTF-8).
      labels: the label list; the classifier's outputs follow its order.

    Returns:
      The labelled examples and the count of rows skipped for having no gold
      label.

    Raises:
      DataError: the file is missing, empty of examples or has a malformed row;
        the message names the file and line.
    """
    path = os.fspath(path)
    labels = tuple(labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise DataError(f"labels: expected at least 2 distinct names, found {list(labels)}")
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise DataError(f"{path}: no data rows")
    fmt = _detect_format(first[1])

    def all_lines():
        yield first
        yield from lines

    examples, skipped = [], 0
    for segments, label in _READERS[fmt](path, all_lines(), _LabelMap(labels)):
        if label is None:
            skipped += 1
        else:
            examples.append(NliExample(segments=segments, label=label))
    if not examples:
        raise DataError(f"{path}: no labelled examples ({skipped} rows without a gold label)")
    return NliData(path=path, format=fmt, examples=tuple(examples), skipped=skipped, labels=labels)
