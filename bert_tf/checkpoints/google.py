"""google-research/bert TF1 checkpoints: the name table and the reader.

Files: `bert_model.ckpt.index` + `bert_model.ckpt.data-*` (+ `.meta`, unused),
read with `tf.train.load_checkpoint` (no graph, no session). Kernels are
stored `[in, out]` like ours; only the next-sentence `output_weights` is
`[2, hidden]`, the transpose of a Keras `Dense` kernel.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bert_tf.checkpoints.tables import Format, Rule
from bert_tf.errors import CheckpointError

_LAYER = "bert/encoder/layer_{i}"

RULES = (
    Rule("embeddings/word_embeddings", ("bert/embeddings/word_embeddings",)),
    Rule("embeddings/position_embeddings", ("bert/embeddings/position_embeddings",)),
    Rule("embeddings/type_embeddings", ("bert/embeddings/token_type_embeddings",)),
    Rule("embeddings/layer_norm/gamma", ("bert/embeddings/LayerNorm/gamma",)),
    Rule("embeddings/layer_norm/beta", ("bert/embeddings/LayerNorm/beta",)),
    Rule("layer_{i}/attention/query/kernel", (f"{_LAYER}/attention/self/query/kernel",)),
    Rule("layer_{i}/attention/query/bias", (f"{_LAYER}/attention/self/query/bias",)),
    Rule("layer_{i}/attention/key/kernel", (f"{_LAYER}/attention/self/key/kernel",)),
    Rule("layer_{i}/attention/key/bias", (f"{_LAYER}/attention/self/key/bias",)),
    Rule("layer_{i}/attention/value/kernel", (f"{_LAYER}/attention/self/value/kernel",)),
    Rule("layer_{i}/attention/value/bias", (f"{_LAYER}/attention/self/value/bias",)),
    Rule("layer_{i}/attention/output/kernel", (f"{_LAYER}/attention/output/dense/kernel",)),
    Rule("layer_{i}/attention/output/bias", (f"{_LAYER}/attention/output/dense/bias",)),
    Rule("layer_{i}/attention/layer_norm/gamma", (f"{_LAYER}/attention/output/LayerNorm/gamma",)),
    Rule("layer_{i}/attention/layer_norm/beta", (f"{_LAYER}/attention/output/LayerNorm/beta",)),
    Rule("layer_{i}/intermediate/kernel", (f"{_LAYER}/intermediate/dense/kernel",)),
    Rule("layer_{i}/intermediate/bias", (f"{_LAYER}/intermediate/dense/bias",)),
    Rule("layer_{i}/output/kernel", (f"{_LAYER}/output/dense/kernel",)),
    Rule("layer_{i}/output/bias", (f"{_LAYER}/output/dense/bias",)),
    Rule("layer_{i}/output/layer_norm/gamma", (f"{_LAYER}/output/LayerNorm/gamma",)),
    Rule("layer_{i}/output/layer_norm/beta", (f"{_LAYER}/output/LayerNorm/beta",)),
    Rule("pooler/kernel", ("bert/pooler/dense/kernel",)),
    Rule("pooler/bias", ("bert/pooler/dense/bias",)),
    Rule("mlm/transform/kernel", ("cls/predictions/transform/dense/kernel",)),
    Rule("mlm/transform/bias", ("cls/predictions/transform/dense/bias",)),
    Rule("mlm/layer_norm/gamma", ("cls/predictions/transform/LayerNorm/gamma",)),
    Rule("mlm/layer_norm/beta", ("cls/predictions/transform/LayerNorm/beta",)),
    Rule("mlm/output_bias", ("cls/predictions/output_bias",)),
    Rule("nsp/kernel", ("cls/seq_relationship/output_weights",), transpose=True),
    Rule("nsp/bias", ("cls/seq_relationship/output_bias",)),
)

IGNORED = (
    (r"(^|/)global_step$", "training step counter"),
    (r"/(adam_[mv]|Adam(_\d+)?|Momentum|RMSProp(_\d+)?|Adagrad|lamb_[mv])$", "optimizer slot"),
    (r"(^|/)(loss_scale|good_steps|bad_steps|current_loss_scale)$", "loss-scaling state"),
)

FORMAT = Format(name="google", rules=RULES, ignored=IGNORED)


class GoogleReader:
    """Reads a TF1 checkpoint by prefix, one tensor at a time."""

    def __init__(self, prefix: str):
        self.path = str(prefix)
        try:
            self._reader = tf.train.load_checkpoint(self.path)
        except (tf.errors.OpError, ValueError) as e:
            message = (getattr(e, "message", None) or str(e)).strip().splitlines()
            raise CheckpointError(
                f"cannot read TF checkpoint {self.path} (truncated or corrupt index?): "
                f"{type(e).__name__}: {message[0] if message else ''}"
            ) from None

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {
            name: tuple(shape) for name, shape in self._reader.get_variable_to_shape_map().items()
        }

    reads_rows = False  # A TF1 checkpoint is read a whole tensor at a time.

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        try:
            value = self._reader.get_tensor(name)
            return value if rows is None else value[rows]
        except tf.errors.OpError as e:
            raise CheckpointError(
                f"{self.path}: cannot read variable {name!r} (truncated or corrupt data "
                f"file?): {type(e).__name__}: {e.message.strip().splitlines()[0]}"
            ) from None
