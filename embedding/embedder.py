"""Sentence embeddings from an exported pair: text in, one float32 vector per text out.

`embed(texts, export_dir)` reads an export folder (`encoder/` + `preprocess/`,
see docs/interface.md), tokenizes with the exported preprocessing model, runs the
exported encoder and pools each text into one vector:

- `pooling="mean"`: the mean of the last layer over the text's tokens,
  `[CLS]` and `[SEP]` included, padding excluded (sentence-transformers'
  mean pooling, what all-MiniLM-L6-v2 and most embedding models use);
- `pooling="cls"`: the last layer at `[CLS]`;
- `pooling="pooled"`: `pooled_output`, the tanh pooler over `[CLS]`.

With `normalize=True` each vector has unit L2 norm (cosine similarity is then a
dot product). The result is in input order.

Speed: texts are tokenized once, sorted by length and batched, and each batch
is padded only to its own longest text (not to a fixed 128), so a batch of
short texts costs what short texts cost. Pooling runs inside the same
TensorFlow function as the encoder, so only `[batch, hidden]` leaves it.

Example:

    from bert_tf import embed
    vectors = embed(["A man is eating food.", "A man rides a horse."],
                    "exports/all-MiniLM-L6-v2", pooling="mean", normalize=True)
    vectors.shape  # (2, 384)
    float(vectors[0] @ vectors[1])  # cosine similarity

For files of any size use `bert_tf.embedding.embed_file` (or the
`bert-tf-embed` command), which streams the input and writes the `.npy`
incrementally.
"""

from __future__ import annotations

import functools
import os
import pathlib
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import tensorflow as tf

from bert_tf import interface
from bert_tf.embedding.options import DEFAULTS, POOLINGS, EmbedError

# Texts tokenized per call of the preprocessing model: large enough that
# sorting by length pays off.
_TOKENIZE_BATCH = 1024

ProgressFn = Callable[[int, int], None]


def _pool(outputs, input_mask, pooling: str, normalize: bool):
    """`[batch, hidden]` vectors from the encoder's outputs (inside tf.function)."""
    if pooling == "pooled":
        vectors = outputs[interface.POOLED_OUTPUT]
    elif pooling == "cls":
        vectors = outputs[interface.SEQUENCE_OUTPUT][:, 0, :]
    else:
        sequence = outputs[interface.SEQUENCE_OUTPUT]
        mask = tf.cast(input_mask, sequence.dtype)[:, :, tf.newaxis]
        total = tf.reduce_sum(sequence * mask, axis=1)
        count = tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
        vectors = total / count
    if normalize:
        vectors = tf.math.l2_normalize(vectors, axis=1, epsilon=1e-24)
    return vectors


class Embedder:
    """An export loaded once, embedding texts in sorted, pad-to-longest batches.

    Args:
      export_dir: an export folder holding `encoder/` and `preprocess/`.

    Raises:
      EmbedError: the folder or one of its SavedModels is missing.
    """

    def __init__(self, export_dir: str | os.PathLike):
        try:
            layout = interface.check_export_dir(export_dir)
        except interface.ExportDirError as error:
            raise EmbedError(f"export_dir: {error}; make one with bert-tf-export") from None
        self.export_dir = layout.root
        import tensorflow_text  # noqa: F401  (registers the tf-text ops of preprocess/)

        self._preprocess = tf.saved_model.load(os.fspath(layout.preprocess_dir))
        self._encoder = tf.saved_model.load(os.fspath(layout.encoder_dir))
        special = {
            k: int(v) for k, v in self._preprocess.tokenize.get_special_tokens_dict().items()
        }
        self.cls_id = special["start_of_sequence_id"]
        self.sep_id = special["end_of_segment_id"]
        self.pad_id = special["padding_id"]
        default_ids = self._preprocess(tf.constant([""]))["input_word_ids"]
        self.default_seq_length = int(default_ids.shape[1])
        self.max_positions = self._max_positions()
        self._functions: dict[tuple[str, bool], Callable] = {}

    def _max_positions(self) -> int | None:
        for variable in self._encoder.variables:
            if "position_embeddings" in variable.name and len(variable.shape) == 2:
                return int(variable.shape[0])
        return None

    def _function(self, pooling: str, normalize: bool):
        key = (pooling, normalize)
        if key not in self._functions:
            encoder = self._encoder

            @tf.function(input_signature=[interface.encoder_input_spec()])
            def encode(inputs):
                outputs = encoder(inputs, training=False)
                return _pool(outputs, inputs[interface.INPUT_MASK], pooling, normalize)

            self._functions[key] = encode
        return self._functions[key]

    @functools.cached_property
    def dim(self) -> int:
        """The vector width (the encoder's hidden size)."""
        return int(self.embed([""]).shape[1])

    def check_seq_length(self, max_seq_length: int | None) -> int:
        """`max_seq_length`, or the export's default when None, validated."""
        if max_seq_length is None:
            return self.default_seq_length
        if (
            isinstance(max_seq_length, bool)
            or not isinstance(max_seq_length, (int, np.integer))
            or max_seq_length < 2
        ):
            raise EmbedError(
                f"max_seq_length: expected an int >= 2 ([CLS] and [SEP]), found {max_seq_length!r}"
            )
        if self.max_positions is not None and max_seq_length > self.max_positions:
            raise EmbedError(
                f"max_seq_length: expected at most {self.max_positions} (the "
                f"encoder's position embeddings), found {max_seq_length}"
            )
        return max_seq_length

    def token_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Wordpiece ids of every text, without special tokens.

        Returns:
          `(flat_ids, starts)`: int32 `[total_tokens]` and int64 `[len(texts) + 1]`;
          text `i` is `flat_ids[starts[i]:starts[i + 1]]`.
        """
        flats, lengths = [], []
        for begin in range(0, len(texts), _TOKENIZE_BATCH):
            tokens = self._preprocess.tokenize(tf.constant(texts[begin : begin + _TOKENIZE_BATCH]))
            word_splits = tokens.row_splits.numpy()
            piece_splits = tokens.values.row_splits.numpy()
            flats.append(tokens.flat_values.numpy())
            lengths.append(np.diff(piece_splits[word_splits]))
        if not flats:
            return np.zeros([0], np.int32), np.zeros([1], np.int64)
        starts = np.zeros(len(texts) + 1, np.int64)
        np.cumsum(np.concatenate(lengths), out=starts[1:])
        return np.concatenate(flats).astype(np.int32, copy=False), starts

    def embed(
        self,
        texts: Sequence[str],
        *,
        pooling: str = "mean",
        normalize: bool = False,
        batch_size: int = DEFAULTS.batch_size,
        max_seq_length: int | None = None,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Embeds `texts`; see the module docstring. Returns float32 `[len(texts), hidden]`."""
        texts = _check_texts(texts)
        _check_options(pooling, batch_size)
        seq_length = self.check_seq_length(max_seq_length)
        encode = self._function(pooling, normalize)
        flat, starts = self.token_ids(texts)
        lengths = np.minimum(np.diff(starts), seq_length - 2) + 2  # with [CLS] and [SEP]
        # Longest first: the largest batch (in memory) runs first, and each
        # batch holds texts of similar length, so little padding is computed.
        order = np.argsort(-lengths, kind="stable")
        out: np.ndarray | None = None
        done = 0
        for begin in range(0, len(texts), batch_size):
            rows = order[begin : begin + batch_size]
            inputs = self._pack(flat, starts, lengths, rows)
            vectors = encode(inputs).numpy()
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), np.float32)
            out[rows] = vectors
            done += len(rows)
            if progress is not None:
                progress(done, len(texts))
        if out is None:  # No texts: the width still comes from the encoder.
            out = np.zeros((0, self.dim), np.float32)
        return out

    def _pack(self, flat, starts, lengths, rows) -> dict[str, tf.Tensor]:
        """`[CLS] tokens [SEP]` for `rows`, padded to the longest of them."""
        batch_lengths = lengths[rows]
        width = int(batch_lengths.max())
        ids = np.full((len(rows), width), self.pad_id, np.int32)
        ids[:, 0] = self.cls_id
        for r, (i, n) in enumerate(zip(rows, batch_lengths)):
            start = starts[i]
            ids[r, 1 : n - 1] = flat[start : start + n - 2]
            ids[r, n - 1] = self.sep_id
        mask = (np.arange(width)[np.newaxis, :] < batch_lengths[:, np.newaxis]).astype(np.int32)
        return {
            interface.INPUT_WORD_IDS: tf.constant(ids),
            interface.INPUT_MASK: tf.constant(mask),
            interface.INPUT_TYPE_IDS: tf.zeros_like(ids),
        }


def _check_options(pooling: str, batch_size: int) -> None:
    if pooling not in POOLINGS:
        raise EmbedError(f"pooling: expected one of {', '.join(POOLINGS)}, found {pooling!r}")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise EmbedError(f"batch_size: expected an int >= 1, found {batch_size!r}")


def _check_texts(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise EmbedError(
            "texts: expected a sequence of strings, found a single "
            f"{type(texts).__name__}; wrap it in a list"
        )
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise EmbedError(f"texts[{index}]: expected str, found {type(text).__name__}")
    return texts


@functools.lru_cache(maxsize=4)
def _embedder(export_dir: str) -> Embedder:
    return Embedder(export_dir)


def load(export_dir: str | os.PathLike) -> Embedder:
    """The `Embedder` of `export_dir`, loaded once per process and reused."""
    path = pathlib.Path(export_dir)
    if not path.is_dir():
        raise EmbedError(
            f"export_dir {path}: not found (expected a folder holding encoder/ and preprocess/)"
        )
    return _embedder(str(path.resolve()))


def embed(
    texts: Sequence[str],
    export_dir: str | os.PathLike,
    *,
    pooling: str = DEFAULTS.pooling,
    normalize: bool = DEFAULTS.normalize,
    batch_size: int = DEFAULTS.batch_size,
    max_seq_length: int | None = DEFAULTS.max_seq_length,
) -> np.ndarray:
    """Embeds `texts` with the exported pair in `export_dir`.

    Args:
      texts: the texts, `[n]` strings (empty strings are fine: `[CLS] [SEP]`).
      export_dir: an export folder holding `encoder/` and `preprocess/`.
      pooling: `"mean"`, `"cls"` or `"pooled"` (see the module docstring).
      normalize: scale each vector to unit L2 norm.
      batch_size: texts per encoder call.
      max_seq_length: tokens per text, `[CLS]` and `[SEP]` included; longer
        texts are truncated. Default: the export's `default_seq_length`.

    Returns:
      float32 `[n, hidden]`, row `i` for `texts[i]`.

    Raises:
      EmbedError: a bad argument or a missing export, in one line.
    """
    return load(export_dir).embed(
        texts,
        pooling=pooling,
        normalize=normalize,
        batch_size=batch_size,
        max_seq_length=max_seq_length,
    )
