"""Checkpoint readers: find the files, detect the format, fill the model, report.

>>> files = find_checkpoint("/path/to/uncased_L-12_H-768_A-12")  # doctest: +SKIP
>>> report = load_checkpoint(files, encoder)                      # doctest: +SKIP
>>> print(report.summary())                                        # doctest: +SKIP

One declarative name table per source format: `google.RULES` (google-research
TF1) and `huggingface.RULES` (Hugging Face / sentence-transformers). Every
encoder weight must be found with the right shape, or the load raises
`CheckpointError` before any weight is assigned.
"""

from __future__ import annotations

import os

from bert_tf.checkpoints import google, huggingface, tables
from bert_tf.checkpoints.files import CheckpointFiles, find_checkpoint
from bert_tf.checkpoints.report import LoadReport, Mismatch
from bert_tf.checkpoints.targets import model_slots

# `CheckpointFiles.format` -> its name table.
FORMATS = {"google": google.FORMAT, "huggingface": huggingface.FORMAT}

__all__ = [
    "CheckpointFiles",
    "LoadReport",
    "Mismatch",
    "find_checkpoint",
    "load_checkpoint",
    "read_variables",
    "open_reader",
]


def open_reader(files: CheckpointFiles):
    """The reader for `files` (names and shapes first, tensors on demand)."""
    if files.format == "google":
        return google.GoogleReader(files.weights)
    if files.weights.endswith((".safetensors", ".safetensors.index.json")):
        return huggingface.SafetensorsReader(files.weights, _shards(files))
    return huggingface.TorchBinReader(files.weights, _shards(files))


def _shards(files: CheckpointFiles) -> list[str] | None:
    """The files a HF reader opens: the shards, without the index that names them."""
    return [f for f in files.weight_files if not f.endswith(".index.json")] or None


def read_variables(files: CheckpointFiles | str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Checkpoint variable name -> shape, without reading any tensor."""
    if not isinstance(files, CheckpointFiles):
        files = find_checkpoint(files)
    return open_reader(files).shapes()


def load_checkpoint(
    files_or_path: CheckpointFiles | str | os.PathLike, encoder, *, mlm_model=None, nsp_model=None
) -> LoadReport:
    """Fills `encoder` (and the given heads) from a checkpoint.

    Args:
        files_or_path: `find_checkpoint`'s result, or a path it accepts.
        encoder: a `BertEncoder` (from `build_encoder`).
        mlm_model: the `build_mlm_model` model sharing `encoder`, to load the
            masked-LM head too (left as initialized if the checkpoint has none:
            see `LoadReport.has_mlm_head`).
        nsp_model: the `build_nsp_model` model, likewise.

    Returns:
        The `LoadReport`.

    Raises:
        CheckpointError: missing files, unreadable or truncated files, a
            mis-shaped variable (names the checkpoint variable, our variable,
            the expected and the found shape), variables of more layers than
            the config has, a missing encoder weight, or a partial head.
    """
    files = (
        files_or_path
        if isinstance(files_or_path, CheckpointFiles)
        else find_checkpoint(files_or_path)
    )
    fmt = FORMATS[files.format]
    reader = open_reader(files)
    slots = model_slots(encoder, mlm_model=mlm_model, nsp_model=nsp_model)
    return tables.load(reader, fmt, slots, num_layers=len(encoder.transformer_layers))
