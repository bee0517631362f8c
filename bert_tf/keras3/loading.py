"""Loading one part of an export for the Keras 3 layers: the folder check, the restore, limits.

Shared by `PreprocessLayer` and `EncoderLayer`; the folder names and the
metadata come from `bert_tf.interface`, so a Keras 3 user gets the same
one-line `ExportDirError`s as every other consumer.
"""

from __future__ import annotations

import os
import pathlib

import tensorflow as tf

# Registers the tf-text ops of `preprocess/`: without them a preprocess folder
# given to `EncoderLayer` would fail to load instead of being recognized.
import tensorflow_text  # noqa: F401

from bert_tf import interface
from bert_tf.errors import BertTfError
from bert_tf.interface import ExportDirError


class LayerArgumentError(BertTfError, ValueError):
    """A Keras 3 layer of bert-tf was given an argument or input it cannot take."""


def load_part(path: os.PathLike | str, part: str):
    """Restores the `part` SavedModel that `path` names (the part folder or its export).

    Call it inside a `tf.distribute` strategy's scope to get distributed
    variables (what `tf.saved_model.load` does there).

    Args:
        path: an export's `encoder/` or `preprocess/` folder, or the export folder.
        part: `interface.ENCODER_DIR` or `interface.PREPROCESS_DIR`.

    Returns:
        `(folder, restored)`: the SavedModel folder and `tf.saved_model.load` of it.

    Raises:
        ExportDirError: the folder holds no SavedModel, or the other part's.
    """
    folder = interface.check_part_dir(path, part)
    try:
        restored = tf.saved_model.load(os.fspath(folder))
    except (OSError, ValueError, RuntimeError, tf.errors.OpError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ExportDirError(f"{folder}: cannot load the SavedModel ({first_line})") from None
    is_preprocess = hasattr(restored, "bert_pack_inputs") and hasattr(restored, "tokenize")
    if part == interface.ENCODER_DIR and is_preprocess:
        raise ExportDirError(
            f"{folder}: a {interface.PREPROCESS_DIR}/ SavedModel, expected the export's "
            f"{interface.ENCODER_DIR}/ (give it to PreprocessLayer)"
        )
    if part == interface.PREPROCESS_DIR and not is_preprocess:
        raise ExportDirError(
            f"{folder}: not a {interface.PREPROCESS_DIR}/ SavedModel (no tokenize and "
            f"bert_pack_inputs; an {interface.ENCODER_DIR}/ goes to EncoderLayer)"
        )
    if part == interface.ENCODER_DIR and not (
        callable(restored) and hasattr(restored, "trainable_variables")
    ):
        raise ExportDirError(
            f"{folder}: not an {interface.ENCODER_DIR}/ SavedModel (no reusable "
            "__call__(inputs, training) with trainable_variables)"
        )
    return folder, restored


def max_position_embeddings(part_dir: pathlib.Path) -> int | None:
    """The longest input the export's encoder takes, from its metadata; None if unknown.

    TF Hub pairs not written by bert-tf have no metadata: no limit is known then.
    """
    metadata = interface.read_metadata(part_dir.parent)
    if metadata is None:
        return None
    value = metadata.config.get("max_position_embeddings")
    return int(value) if value is not None else None


def check_seq_length(seq_length: int, limit: int | None, where: pathlib.Path) -> None:
    """Raises a one-line `LayerArgumentError` if `seq_length` exceeds the encoder's `limit`."""
    if limit is not None and seq_length > limit:
        raise LayerArgumentError(
            f"seq_length: expected at most max_position_embeddings={limit} of the export "
            f"{where.parent}, found {seq_length}"
        )
