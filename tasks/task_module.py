"""What every string-in task folder shares: its parts, and the check after saving.

A task folder (`classifier/`, `token_classifier/`, ...) is a `tf.Module` over
the export's preprocessing module and a task model (the encoder plus a head,
`bert_tf.tasks.heads.build_task_model`). `TaskModule.save` writes it, loads it
back and runs every signature on probe inputs in both: float outputs must agree
within 1e-4 x their scale, every other output exactly, or nothing is kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from bert_tf.errors import BertTfError

STRINGS = tf.TensorSpec([None], tf.string)

# The relative bound of the saved folder against the in-memory module.
SAVE_TOLERANCE = 1e-4


class TaskVerificationError(BertTfError):
    """A saved task folder does not reproduce the in-memory module."""


class TaskModule(tf.Module):
    """Base of the task folders' modules.

    Args:
        name: the folder's name (`bert_tf.interface.TASK_DIRS`).
        preprocessor: the export's preprocessing module (`tokenize`,
            `tokenize_with_offsets`, `bert_pack_inputs`;
            `bert_tf.preprocess.build_preprocess_model`).
        task_model: encoder inputs -> `{"logits": ...}`.
        labels: label names in logit order (none for multiple choice).
        seq_length: the packed length.
    """

    def __init__(
        self,
        name: str,
        preprocessor: tf.Module,
        task_model: tf_keras.Model,
        labels: Sequence[str],
        seq_length: int,
    ):
        super().__init__(name=name)
        self.preprocessor = preprocessor
        self.task_model = task_model
        self.labels = tuple(labels)
        self.seq_length = seq_length

    def pack(self, segments: Sequence[tf.RaggedTensor]) -> dict[str, tf.Tensor]:
        """Packs the segments to the batch's longest row, at most `seq_length`.

        As the transformers pipelines pad (to the longest): a batch of short
        texts runs short rows. Trimming (round-robin) only happens for rows
        longer than `seq_length`, exactly as when packing to `seq_length`.

        Args:
            segments: token ids `[batch, (words), (pieces)]` or `[batch, (pieces)]`.

        Returns:
            int32 `[batch, seq]` `input_word_ids`, `input_mask`, `input_type_ids`,
            `seq = min(longest row + specials, seq_length)`.
        """
        pieces = [s.merge_dims(1, 2) if s.ragged_rank > 1 else s for s in segments]
        total = tf.add_n([tf.cast(p.row_lengths(), tf.int32) for p in pieces])
        longest = tf.reduce_max(tf.concat([total, [0]], 0)) + len(segments) + 1
        length = tf.minimum(longest, self.seq_length)
        return self.preprocessor.bert_pack_inputs(list(segments), seq_length=length)

    def logits(self, packed: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The head's float32 logits for packed encoder inputs."""
        return tf.cast(self.task_model(packed, training=False)["logits"], tf.float32)

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """Signature name -> concrete function, for `tf.saved_model.save`."""
        raise NotImplementedError

    def probe(self) -> dict[str, dict[str, tf.Tensor]]:
        """Signature name -> the inputs the check after saving runs it on."""
        raise NotImplementedError

    def save(self, path: os.PathLike | str) -> float:
        """Saves at `path`, reloads, checks every signature; returns the max abs diff.

        Raises:
            TaskVerificationError: an output differs (floats: by more than
                1e-4 x their scale).
        """
        path = os.fspath(path)
        signatures = self.signatures()
        tf.saved_model.save(self, path, signatures=signatures)
        loaded = tf.saved_model.load(path).signatures
        worst = 0.0
        for name, feed in self.probe().items():
            want, found = signatures[name](**feed), loaded[name](**feed)
            for key, value in want.items():
                worst = max(worst, _compare(f"{name}.{key}", value.numpy(), found[key].numpy()))
        return worst


def char_offset(data: bytes, offset: int) -> int:
    """A byte offset into UTF-8 `data` (the SavedModels' offsets) as a Python character offset."""
    return len(data[:offset].decode("utf-8"))


def _compare(what: str, want: np.ndarray, found: np.ndarray) -> float:
    """0 for equal non-float outputs; the max abs diff of float ones, if within bound."""
    if want.shape != found.shape:
        raise TaskVerificationError(
            f"verification failed: {what} has shape {found.shape} saved, {want.shape} in memory"
        )
    if not np.issubdtype(want.dtype, np.floating):
        if not np.array_equal(want, found):
            raise TaskVerificationError(
                f"verification failed: {what} differs between the saved and in-memory model"
            )
        return 0.0
    diff = float(np.max(np.abs(found - want), initial=0.0))
    bound = SAVE_TOLERANCE * max(1.0, float(np.max(np.abs(want), initial=0.0)))
    if diff > bound:
        raise TaskVerificationError(
            f"verification failed: {what} differs from the in-memory model by {diff:.3g} "
            f"(at most {bound:.3g} allowed)"
        )
    return diff
