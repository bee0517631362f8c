"""The machinery behind the declarative name tables: match, check, then assign.

A source format declares:
- `rules`: `Rule(target_slot, source_names, transpose)`, with `{i}` standing
  for the layer index in both; the first source name present is loaded, any
  other present one is an alias (ignored, reported);
- `ignored`: a regex of names skipped on purpose (optimizer slots, counters,
  buffers, tied copies), with the reason;
- `canonical_name`: renames applied before matching (prefixes, old names).

`load(reader, fmt, slots, num_layers)` first plans the whole load from names
and shapes only, raises `CheckpointError` on any shape mismatch, extra layer or
missing encoder weight (so a failed load leaves the model untouched), then
reads and assigns one tensor at a time (big ones in blocks of rows, see
`CHUNK_BYTES`), so at most one source tensor or block is held in memory besides
the model.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf.checkpoints.report import LoadReport, Mismatch
from bert_tf.checkpoints.targets import GROUPS, Slot
from bert_tf.errors import CheckpointError, CheckpointMismatchError


@dataclasses.dataclass(frozen=True)
class Rule:
    """One row of a name table.

    Attributes:
        target: our slot name (see `targets.py`), `{i}` for the layer index.
        sources: checkpoint names (after `canonical_name`), first present wins.
        transpose: the checkpoint stores the transpose of our flat shape.
    """

    target: str
    sources: tuple[str, ...]
    transpose: bool = False


@dataclasses.dataclass(frozen=True)
class Format:
    """A source format: its name table and the names it skips on purpose."""

    name: str
    rules: tuple[Rule, ...]
    ignored: tuple[tuple[str, str], ...]  # (regex on the canonical name, reason)
    canonical_name: Callable[[str], str] = lambda name: name


class Reader(Protocol):
    """What a format's reader offers: names with shapes, then tensors one by one.

    `read(name, rows)` returns `tensor[rows]` (the first axis sliced), or the
    whole tensor when `rows` is None, as a numpy array; `reads_rows` says whether
    it reads only those rows from the file (otherwise big tensors are read once
    and assigned in blocks from memory).
    """

    path: str
    reads_rows: bool

    def shapes(self) -> dict[str, tuple[int, ...]]: ...

    def read(self, name: str, rows: slice | None = None) -> np.ndarray: ...


# Tensors larger than this (the word embeddings of BERT-base and larger) are read and assigned in row blocks of about this size, so the
# load holds one small block besides the model instead of two or three copies
# of the whole tensor (the read, its conversion, the assignment).
CHUNK_BYTES = 16 << 20


@dataclasses.dataclass(frozen=True)
class _Step:
    source: str  # the name in the file
    slot: str
    transpose: bool


def expand(rules: Iterable[Rule], num_layers: int) -> list[Rule]:
    """The rules with `{i}` replaced by every layer index."""
    out = []
    for rule in rules:
        indices = range(num_layers) if "{i}" in rule.target else [None]
        for i in indices:
            out.append(
                Rule(
                    rule.target.format(i=i),
                    tuple(s.format(i=i) for s in rule.sources),
                    rule.transpose,
                )
            )
    return out


def load(reader: Reader, fmt: Format, slots: dict[str, Slot], num_layers: int) -> LoadReport:
    """Plans, checks and performs a load; see the module docstring.

    Raises:
        CheckpointError: a mis-shaped variable (naming both variables and both
            shapes), variables of layers beyond `num_layers`, a missing encoder
            weight, a partial head, or an unreadable tensor. Carries the report.
    """
    report = LoadReport(path=reader.path, format=fmt.name)
    shapes = reader.shapes()
    by_canonical: dict[str, str] = {}
    for name in shapes:
        canonical = fmt.canonical_name(name)
        if canonical in by_canonical:
            raise CheckpointError(
                f"{reader.path}: variables {by_canonical[canonical]!r} and {name!r} both "
                f"stand for {canonical!r}; cannot tell which to load"
            )
        by_canonical[canonical] = name

    claimed: set[str] = set()
    steps: list[_Step] = []
    found_by_group = {group: 0 for group in GROUPS}
    rules_by_group = {group: 0 for group in GROUPS}
    missing_heads: dict[str, list[str]] = {"mlm": [], "nsp": []}
    unused_heads: list[str] = []
    for rule in expand(fmt.rules, num_layers):
        group = rule.target.split("/")[0]
        group = group if group in GROUPS else "encoder"
        rules_by_group[group] += 1
        present = [s for s in rule.sources if s in by_canonical]
        claimed.update(present)
        for alias in present[1:]:
            report.ignored[by_canonical[alias]] = f"alias of {by_canonical[present[0]]!r}"
        if present:
            found_by_group[group] += 1
        slot = slots.get(rule.target)
        if slot is None:  # A head the caller did not ask for.
            for source in present:
                report.unused[by_canonical[source]] = tuple(shapes[by_canonical[source]])
                unused_heads.append(by_canonical[source])
            continue
        if not present:
            report.missing.append(rule.target)
            if group in missing_heads:
                missing_heads[group].append(rule.target)
            continue
        source = by_canonical[present[0]]
        expected = slot.flat_shape[::-1] if rule.transpose else slot.flat_shape
        found = tuple(shapes[source])
        if found != tuple(expected):
            report.mismatched.append(Mismatch(source, slot.name, tuple(expected), found))
            continue
        steps.append(_Step(source, rule.target, rule.transpose))
    report.has_mlm_head = found_by_group["mlm"] == rules_by_group["mlm"] > 0
    report.has_nsp_head = found_by_group["nsp"] == rules_by_group["nsp"] > 0

    extra_layers = _sort_leftovers(fmt, by_canonical, claimed, shapes, num_layers, report)
    _raise_for_problems(
        reader.path,
        report,
        slots,
        extra_layers,
        missing_heads,
        found_by_group,
        rules_by_group,
        num_layers,
        fmt,
    )

    logging.info("Loading %d variables from %s.", len(steps), reader.path)
    for n, step in enumerate(steps, 1):
        slot = slots[step.slot]
        blocks = _row_blocks(tuple(shapes[step.source]), slot.variable, step.transpose)
        whole = None
        if blocks != [None] and not reader.reads_rows:
            whole = _read(reader, step.source, None, report)
        for rows in blocks:
            value = whole[rows] if whole is not None else _read(reader, step.source, rows, report)
            _assign(slot.variable, value, rows, step.transpose)
            del value
        del whole
        report.matched[step.slot] = step.source
        if n % 100 == 0:
            logging.info("  %d/%d variables loaded", n, len(steps))
    _log_report(report, unused_heads)
    return report


def _read(reader: Reader, name: str, rows: slice | None, report: LoadReport) -> np.ndarray:
    try:
        return reader.read(name, rows)
    except CheckpointError:
        raise
    except Exception as e:  # Each reader library raises its own kinds.
        raise CheckpointError(
            f"{reader.path}: cannot read variable {name!r} (truncated or corrupt file?): "
            f"{_first_line(e)}",
            report=report,
        ) from None


def _row_blocks(source_shape: tuple[int, ...], variable, transpose: bool) -> list[slice | None]:
    """The source rows to assign at a time: `[None]` (all at once) or blocks of rows.

    Only big 2-D tensors stored as the variable's shape are split (word and
    position embeddings, in practice); transposed and head-split kernels go whole.
    """
    if (
        transpose
        or len(source_shape) != 2
        or tuple(variable.shape) != source_shape
        or int(np.prod(source_shape)) * variable.dtype.size <= CHUNK_BYTES
    ):
        return [None]
    rows, row_elements = source_shape
    per_block = max(1, CHUNK_BYTES // (row_elements * variable.dtype.size))
    return [slice(start, min(start + per_block, rows)) for start in range(0, rows, per_block)]


def _assign(variable, value: np.ndarray, rows: slice | None, transpose: bool) -> None:
    """Writes `value` (source rows `rows`, or the whole source tensor) into `variable`.

    Blocks go through `scatter_update`, which every kind of variable supports:
    plain, mixed-precision (`AutoCastVariable`) and distributed (every replica).
    """
    if transpose:
        value = value.T
    value = value.astype(variable.dtype.as_numpy_dtype, copy=False)
    if rows is None:
        variable.assign(np.reshape(value, variable.shape))
    else:
        variable.scatter_update(tf.IndexedSlices(value, tf.range(rows.start, rows.stop)))


def _sort_leftovers(fmt, by_canonical, claimed, shapes, num_layers, report) -> list[str]:
    """Files unclaimed names under ignored / unused; returns those of extra layers."""
    layered = [
        re.compile(re.escape(source).replace(re.escape("{i}"), r"(\d+)") + "$")
        for rule in fmt.rules
        if "{i}" in rule.target
        for source in rule.sources
    ]
    ignored = [(re.compile(pattern), reason) for pattern, reason in fmt.ignored]
    extra_layers = []
    for canonical, name in sorted(by_canonical.items()):
        if canonical in claimed:
            continue
        reason = next((r for p, r in ignored if p.search(canonical)), None)
        if reason is not None:
            report.ignored[name] = reason
            continue
        if any((m := p.match(canonical)) and int(m.group(1)) >= num_layers for p in layered):
            extra_layers.append(name)
        report.unused[name] = tuple(shapes[name])
    return extra_layers


def _raise_for_problems(
    path,
    report,
    slots,
    extra_layers,
    missing_heads,
    found_by_group,
    rules_by_group,
    num_layers,
    fmt,
):
    def fail(message, problems):
        # The whole list is in `CheckpointError.report`; the line names the first.
        more = f" (and {problems - 1} more like it)" if problems > 1 else ""
        raise CheckpointMismatchError(f"{path}: {message}{more}", report=report)

    if report.mismatched:
        fail(
            f"{report.mismatched[0]} -- does the config match the checkpoint?",
            len(report.mismatched),
        )
    if extra_layers:
        fail(
            f"checkpoint variable {extra_layers[0]!r} belongs to a layer beyond the config's "
            f"num_layers={num_layers}",
            len(extra_layers),
        )
    # A task head is as required as the encoder: a task model without it is random.
    missing_encoder = [s for s in report.missing if slots[s].group in ("encoder", "task")]
    if missing_encoder:
        rule = next(r for r in expand(fmt.rules, num_layers) if r.target == missing_encoder[0])
        fail(
            f"no checkpoint variable for model variable {slots[missing_encoder[0]].name!r} "
            f"(looked for {' or '.join(map(repr, rule.sources))}); is this a {fmt.name} "
            f"BERT checkpoint?",
            len(missing_encoder),
        )
    for group, missing in missing_heads.items():
        if missing and found_by_group[group]:
            fail(
                f"the {group.upper()} head is incomplete: no checkpoint variable for "
                f"{slots[missing[0]].name!r}",
                len(missing),
            )


def _log_report(report: LoadReport, heads: list[str]) -> None:
    logging.info("%s", report.summary().splitlines()[0])
    if heads:
        logging.info(
            "Note: the checkpoint's pre-training head variables are not loaded "
            "(no head model given): %s",
            ", ".join(sorted(heads)),
        )
    for name in report.unused:
        if name not in heads:
            logging.warning(
                "Unused checkpoint variable %s %s has no place in the model.",
                name,
                list(report.unused[name]),
            )
    for slot in report.missing:
        logging.warning(
            "Model variable %s has no checkpoint variable; it keeps its initial value.", slot
        )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
