"""`LoadReport`: what a checkpoint load matched, missed, left unused or could not fit."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """A checkpoint variable whose shape does not fit the model variable it maps to."""

    source: str  # checkpoint variable name
    target: str  # our variable (Keras name)
    expected: tuple[int, ...]  # the shape the model needs (in the checkpoint's layout)
    found: tuple[int, ...]  # the shape in the checkpoint

    def __str__(self):
        return (
            f"checkpoint variable {self.source!r} does not fit model variable "
            f"{self.target!r}: expected shape {list(self.expected)}, "
            f"found {list(self.found)}"
        )


@dataclasses.dataclass
class LoadReport:
    """The outcome of `load_checkpoint`.

    Attributes:
        path: the weights file (or TF1 prefix) read.
        format: "google" or "huggingface".
        matched: our slot name -> the checkpoint variable loaded into it.
        missing: slot names (see `targets.py`) with no checkpoint variable.
        unused: checkpoint variable -> shape, for variables with no place in
            the model (including heads when no head model was given).
        mismatched: `Mismatch`es (a load with any raises `CheckpointError`).
        ignored: checkpoint variables skipped on purpose, with the reason
            (optimizer slots, `global_step`, buffers, tied copies, aliases).
        has_mlm_head: the checkpoint holds a complete masked-LM head.
        has_nsp_head: the checkpoint holds a complete next-sentence head.
    """

    path: str
    format: str
    matched: dict[str, str] = dataclasses.field(default_factory=dict)
    missing: list[str] = dataclasses.field(default_factory=list)
    unused: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    mismatched: list[Mismatch] = dataclasses.field(default_factory=list)
    ignored: dict[str, str] = dataclasses.field(default_factory=dict)
    has_mlm_head: bool = False
    has_nsp_head: bool = False

    def summary(self) -> str:
        """A few human-readable lines: counts, then every problem by name and shape."""
        lines = [
            f"{self.format} checkpoint {self.path}: {len(self.matched)} variables loaded, "
            f"{len(self.missing)} missing, {len(self.unused)} unused, "
            f"{len(self.mismatched)} mis-shaped, {len(self.ignored)} ignored; "
            f"MLM head: {'yes' if self.has_mlm_head else 'no'}, "
            f"NSP head: {'yes' if self.has_nsp_head else 'no'}"
        ]
        lines += [f"  mis-shaped: {m}" for m in self.mismatched]
        lines += [f"  missing: {name}" for name in self.missing]
        lines += [f"  unused: {name} {list(shape)}" for name, shape in self.unused.items()]
        return "\n".join(lines)
