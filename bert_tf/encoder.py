"""`build_encoder(config)`: the Keras BERT encoder with the TF Hub dict interface.

Inputs (a dict of int32 `[batch, seq_length]`, both dimensions dynamic):
`input_word_ids`, `input_mask` (1 = real token), `input_type_ids`.

Outputs (a dict, float32 under any mixed-precision policy):
- `pooled_output` `[batch, hidden]`: tanh pooler over `[CLS]`;
- `sequence_output` `[batch, seq_length, hidden]`: the last block's output;
- `encoder_outputs`: list of `num_layers` x `[batch, seq_length, hidden]`;
- `default`: the same tensor as `pooled_output`.

Layer names are stable (`embeddings`, `attention_mask`, `transformer/layer_0`
... `transformer/layer_{N-1}`, `pooler`), and the checkpoint readers reach the
weights through the `embeddings`, `transformer_layers` and `pooler` attributes.

>>> from bert_tf.config import BertConfig
>>> encoder = build_encoder(BertConfig(vocab_size=50, hidden_size=16, num_layers=2,
...                                    num_heads=2, intermediate_size=32))
>>> ids = tf.constant([[2, 7, 3, 0]])
>>> out = encoder(dict(input_word_ids=ids, input_mask=tf.cast(ids > 0, tf.int32),
...                    input_type_ids=tf.zeros_like(ids)))
>>> out["sequence_output"].shape, len(out["encoder_outputs"]), out["pooled_output"].dtype
(TensorShape([1, 4, 16]), 2, tf.float32)
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras

from bert_tf import layers
from bert_tf import precision as precisions
from bert_tf.config import BertConfig

INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")


def encoder_inputs(name_prefix: str = "") -> dict[str, tf_keras.Input]:
    """Fresh symbolic inputs of the encoder's dict interface."""
    return {
        name: tf_keras.Input(shape=(None,), dtype=tf.int32, name=name_prefix + name)
        for name in INPUT_NAMES
    }


@tf_keras.saving.register_keras_serializable(package="bert_tf")
class BertEncoder(tf_keras.Model):
    """The BERT encoder as a functional `tf_keras.Model` (see the module docstring).

    Attributes:
        config: the `BertConfig` it was built from.
        embeddings: the `layers.BertEmbeddings` layer.
        transformer_layers: the `layers.TransformerBlock`s, in order.
        pooler: the `layers.BertPooler`.
    """

    def __init__(
        self,
        config: BertConfig | dict[str, Any],
        name: str = "bert_encoder",
        initialize: bool = True,
        **kwargs,
    ):
        if isinstance(config, dict):
            config = BertConfig.from_dict(config)
        inputs = encoder_inputs()
        embeddings = layers.BertEmbeddings(
            vocab_size=config.vocab_size,
            hidden_size=config.hidden_size,
            max_position_embeddings=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            dropout=config.hidden_dropout,
            layer_norm_eps=config.layer_norm_eps,
            initializer_range=config.initializer_range,
            initialize=initialize,
            name="embeddings",
        )
        x = embeddings(inputs["input_word_ids"], inputs["input_type_ids"])
        attention_mask = layers.AttentionMask(name="attention_mask")(inputs["input_mask"])
        blocks = []
        outputs_by_layer = []
        for i in range(config.num_layers):
            block = layers.TransformerBlock(
                hidden_size=config.hidden_size,
                num_heads=config.num_heads,
                intermediate_size=config.intermediate_size,
                hidden_act=config.hidden_act,
                hidden_dropout=config.hidden_dropout,
                attention_dropout=config.attention_dropout,
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                initialize=initialize,
                name=f"transformer/layer_{i}",
            )
            x = block(x, attention_mask=attention_mask)
            blocks.append(block)
            outputs_by_layer.append(x)
        pooler = layers.BertPooler(
            config.hidden_size, config.initializer_range, initialize=initialize, name="pooler"
        )
        pooled = pooler(x)
        # The blocks' outputs are float32 under any policy (`bert_tf.layers`); the pooler's not.
        if tf_keras.mixed_precision.global_policy().compute_dtype != "float32":
            pooled = _to_float32(pooled, "pooled_output")
        outputs = {
            "pooled_output": pooled,
            "sequence_output": outputs_by_layer[-1],
            "encoder_outputs": outputs_by_layer,
            "default": pooled,
        }
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.config = config
        self.initialize = initialize
        self.embeddings = embeddings
        self.transformer_layers = blocks
        self.pooler = pooler

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name, "initialize": self.initialize}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _to_float32(tensor, name):
    # A float32 identity layer: Keras casts its input to the layer's dtype.
    return tf_keras.layers.Activation("linear", dtype="float32", name=f"{name}_float32")(tensor)


def build_encoder(
    config: BertConfig,
    *,
    name: str = "bert_encoder",
    initialize: bool = True,
    precision: str | None = None,
) -> BertEncoder:
    """Builds the encoder for `config` with freshly initialized weights.

    Args:
        config: the architecture.
        name: the Keras model name.
        initialize: draw BERT's random initialization (truncated normal with
            stddev `config.initializer_range`). False: every weight starts at
            zero instead, for a model whose weights a checkpoint fills next
            (`bert_tf.checkpoints.load_checkpoint`): the same model once
            loaded, built without the random draw (BERT-large: ~15 s less on
            2 cores). LayerNorm scales start at one either way.
        precision: one of `bert_tf.precision.PRECISIONS` (`"bfloat16"`: the
            matmuls compute in bfloat16, see `bert_tf.precision`); None: the
            current global tf_keras policy.

    Returns:
        A `BertEncoder` (a `tf_keras.Model`): dict inputs `input_word_ids`,
        `input_mask`, `input_type_ids` int32 `[batch, seq]` -> dict outputs
        `pooled_output`, `sequence_output`, `encoder_outputs`, `default`.
        Under a mixed-precision policy the layers compute in float16/bfloat16,
        the variables and outputs are float32.
    """
    if precision is None:
        return BertEncoder(config, name=name, initialize=initialize)
    with precisions.policy_scope(precision):
        return BertEncoder(config, name=name, initialize=initialize)
