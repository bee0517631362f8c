"""Sentence embeddings from an export folder: text in, one float32 vector per text out.

`embed(texts, export_dir)` reads an export folder (`encoder/` + `preprocess/`,
see docs/interface.md), tokenizes with the exported preprocessing model, runs the
exported encoder and turns each text's last layer into one vector with the
export's own pooling stack: the sentence-transformers modules it was exported
from (pooling, Dense layers, Normalize, `max_seq_length`, prompts; recorded in
its metadata, the same stack as its `embedding/` SavedModel, computed by the
same code, `bert_tf.embedding.pooling.EmbeddingHead`). An export without a
stack pools with `mean`, unnormalized.

`pooling=` and `normalize=` override the stack (a log line says so):

- `pooling="mean"`, `"cls"`, `"max"`, `"mean_sqrt_len_tokens"`,
  `"weightedmean"`, `"lasttoken"`: sentence-transformers' modes over the
  text's tokens, `[CLS]` and `[SEP]` included, padding excluded; the stack's
  Dense layers are dropped (they were trained on its own pooling);
- `pooling="pooled"`: `pooled_output`, the tanh pooler over `[CLS]`;
- `normalize=True` / `False`: unit L2 norm or not.

`prompt_name="query"` prepends the export's prompt of that name (as
`SentenceTransformer.encode(prompt_name=...)`). The result is in input order.

Speed: texts are tokenized once, sorted by length and batched, and each batch
is padded only to its own longest text (not to a fixed 128), so a batch of
short texts costs what short texts cost. Pooling runs inside the same
TensorFlow function as the encoder, so only `[batch, dim]` leaves it.

Example:

    from bert_tf import embed
    vectors = embed(["A man is eating food.", "A man rides a horse."],
                    "exports/all-MiniLM-L6-v2")
    vectors.shape  # (2, 384)
    float(vectors[0] @ vectors[1])  # cosine similarity (the stack normalizes)

For files of any size use `bert_tf.embedding.embed_file` (or the
`bert-tf-embed` command), which streams the input and writes the `.npy`
incrementally.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from bert_tf import interface
from bert_tf.checkpoints.sentence_transformers import PoolingStack
from bert_tf.embedding.options import DEFAULTS, POOLINGS, EmbedError
from bert_tf.embedding.pooling import DenseVariables, EmbeddingHead

# Texts tokenized per call of the preprocessing model: large enough that
# sorting by length pays off.
_TOKENIZE_BATCH = 1024

ProgressFn = Callable[[int, int], None]


# What `pooling="pooled"` means in a stack: the encoder's own pooler output.
_POOLED = "pooled"


def _dense_variables(embedding_dir: pathlib.Path, stack: PoolingStack) -> list[DenseVariables]:
    """The Dense layers' weights of `embedding/`, read from its checkpoint (no graph loaded)."""
    if not stack.dense:
        return []
    reader = tf.train.load_checkpoint(os.fspath(embedding_dir / "variables" / "variables"))
    layers = []
    for index, layer in enumerate(stack.dense):
        prefix = f"head/dense/{index}"
        key = f"{prefix}/kernel/.ATTRIBUTES/VARIABLE_VALUE"
        if not reader.has_tensor(key):
            raise EmbedError(f"{embedding_dir}: no weights for {layer.describe()} ({key})")
        bias_key = f"{prefix}/bias/.ATTRIBUTES/VARIABLE_VALUE"
        bias = reader.get_tensor(bias_key) if layer.bias else None
        layers.append(
            DenseVariables(reader.get_tensor(key), bias, layer.activation, name=f"dense_{index}")
        )
    return layers


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
        metadata = interface.read_metadata(layout.root)
        self.stack: PoolingStack | None = None
        if metadata is not None and metadata.embedding is not None:
            self.stack = PoolingStack.from_dict(metadata.embedding)
        self._dense = (
            _dense_variables(layout.embedding_dir, self.stack) if self.stack is not None else []
        )
        self._functions: dict[tuple, Callable] = {}

    def _max_positions(self) -> int | None:
        for variable in self._encoder.variables:
            if "position_embeddings" in variable.name and len(variable.shape) == 2:
                return int(variable.shape[0])
        return None

    def resolve_stack(self, pooling: str | None, normalize: bool | None) -> PoolingStack:
        """The stack `embed` applies: the export's, with `pooling` / `normalize` overriding it."""
        stack = self.stack
        if stack is None:
            stack = PoolingStack(modes=("mean",), dimension=0, source="bert-tf's default")
        if pooling is None and (normalize is None or normalize == stack.normalize):
            return stack
        changed = stack
        if pooling is not None:
            modes = (pooling,) if pooling != _POOLED else ()
            changed = dataclasses.replace(changed, modes=modes, dense=())
        if normalize is not None:
            changed = dataclasses.replace(changed, normalize=normalize)
        if self.stack is not None and changed != self.stack:
            logging.info(
                "pooling=%s normalize=%s override the export's stack (%s)",
                pooling,
                normalize,
                self.stack.describe(),
            )
        return changed

    def _function(self, stack: PoolingStack, prompt_length: int):
        key = (stack.modes, stack.normalize, len(stack.dense), stack.include_prompt, prompt_length)
        if key not in self._functions:
            encoder = self._encoder
            head = None
            if stack.modes:
                dense = self._dense[: len(stack.dense)]
                head = EmbeddingHead(stack, dense)

            @tf.function(input_signature=[interface.encoder_input_spec()])
            def encode(inputs):
                outputs = encoder(inputs, training=False)
                if head is not None:
                    sequence = outputs[interface.SEQUENCE_OUTPUT]
                    return head(sequence, inputs[interface.INPUT_MASK], prompt_length)
                vectors = outputs[interface.POOLED_OUTPUT]
                if stack.normalize:
                    vectors = tf.math.l2_normalize(vectors, axis=1, epsilon=1e-24)
                return vectors

            self._functions[key] = encode
        return self._functions[key]

    def prompt(self, prompt_name: str | None) -> str:
        """The text prepended for `prompt_name` (None: the export's default prompt, or none)."""
        prompts = self.stack.prompts if self.stack is not None else {}
        if prompt_name is None:
            prompt_name = self.stack.default_prompt_name if self.stack is not None else None
            if prompt_name is None:
                return ""
        if prompt_name not in prompts:
            raise EmbedError(
                f"prompt_name: expected one of the export's prompts "
                f"({', '.join(prompts) or 'it has none'}), found {prompt_name!r}"
            )
        return prompts[prompt_name]

    @functools.cached_property
    def dim(self) -> int:
        """The vector width of the export's own stack."""
        return int(self.embed([""]).shape[1])

    def check_seq_length(self, max_seq_length: int | None) -> int:
        """`max_seq_length`, or the stack's (else the export's default) when None, validated."""
        if max_seq_length is None:
            if self.stack is not None and self.stack.max_seq_length:
                return self.stack.max_seq_length
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
        pooling: str | None = None,
        normalize: bool | None = None,
        prompt_name: str | None = None,
        batch_size: int = DEFAULTS.batch_size,
        max_seq_length: int | None = None,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Embeds `texts`; see the module docstring. Returns float32 `[len(texts), dim]`."""
        texts = _check_texts(texts)
        _check_options(pooling, batch_size)
        seq_length = self.check_seq_length(max_seq_length)
        prompt = self.prompt(prompt_name)
        prompt_length = 0
        if prompt:
            texts = [prompt + text for text in texts]
            # [CLS] and the prompt's wordpieces, as sentence-transformers counts them.
            prompt_length = 1 + len(self.token_ids([prompt])[0])
        encode = self._function(self.resolve_stack(pooling, normalize), prompt_length)
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
            options = dict(pooling=pooling, normalize=normalize, prompt_name=prompt_name)
            out = np.zeros((0, self.embed([""], **options).shape[1]), np.float32)
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


def _check_options(pooling: str | None, batch_size: int) -> None:
    if pooling is not None and pooling not in POOLINGS:
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
    prompt_name: str | None = DEFAULTS.prompt_name,
    *,
    pooling: str | None = DEFAULTS.pooling,
    normalize: bool | None = DEFAULTS.normalize,
    batch_size: int = DEFAULTS.batch_size,
    max_seq_length: int | None = DEFAULTS.max_seq_length,
) -> np.ndarray:
    """Embeds `texts` with the export in `export_dir`, as its own pooling stack says.

    Args:
      texts: the texts, `[n]` strings (empty strings are fine: `[CLS] [SEP]`).
      export_dir: an export folder holding `encoder/` and `preprocess/`.
      prompt_name: the export's prompt to prepend (`"query"`, ...); None: its
        default prompt, if any.
      pooling: None: the export's stack; else one of `POOLINGS`, overriding it
        (see the module docstring).
      normalize: None: the export's stack; else whether to scale each vector
        to unit L2 norm.
      batch_size: texts per encoder call.
      max_seq_length: tokens per text, `[CLS]` and `[SEP]` included; longer
        texts are truncated. Default: the stack's `max_seq_length`, else the
        export's `default_seq_length`.

    Returns:
      float32 `[n, dim]`, row `i` for `texts[i]`.

    Raises:
      EmbedError: a bad argument or a missing export, in one line.
    """
    return load(export_dir).embed(
        texts,
        pooling=pooling,
        normalize=normalize,
        prompt_name=prompt_name,
        batch_size=batch_size,
        max_seq_length=max_seq_length,
    )
