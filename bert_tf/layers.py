"""The layers of a BERT encoder: embeddings, attention mask, transformer block, pooler.

All layers are `tf_keras` (Keras 2) layers with explicit sub-layer names and a
`get_config` that mirrors `__init__`. Shapes are dynamic in batch and sequence
length and nothing depends on Python-side shapes, so the encoder compiles with
XLA. The attention projections' kernels keep the head axis
(`[hidden, num_heads, head_size]`) and run as 2-D matmuls; queries, keys and
values come out heads-first (`[batch, heads, seq, head_size]`), so the
attention products are plain batched matmuls.

Dropout is active only when the layer is called with `training=True`.

Under a mixed-precision policy (`bert_tf.precision`) the matmuls compute in
the policy's dtype, while the embeddings, the residual stream between blocks,
LayerNorm, the attention mask and softmax stay float32 (`stream_dtype()`; as
`torch.autocast` keeps them): bfloat16 rounds to 8 bits of mantissa, and a residual stream
re-rounded at every block would drift with depth.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras

_ACTIVATIONS = {
    "gelu_tanh": lambda x: tf.nn.gelu(x, approximate=True),
    "gelu_exact": lambda x: tf.nn.gelu(x, approximate=False),
    "relu": tf.nn.relu,
    "silu": tf.nn.silu,
}


def activation(name: str):
    """The activation function for a `BertConfig.hidden_act` name."""
    return _ACTIVATIONS[name]


def initializer(
    initializer_range: float, initialize: bool = True
) -> tf_keras.initializers.Initializer:
    """BERT's weight initializer: truncated normal with stddev `initializer_range`.

    With `initialize=False`: zeros, for weights a checkpoint will overwrite
    (no random draw: BERT-large builds ~15 s faster on 2 cores).
    """
    if not initialize:
        return tf_keras.initializers.Zeros()
    return tf_keras.initializers.TruncatedNormal(stddev=initializer_range)


def stream_dtype() -> str:
    """The dtype of the residual stream for layers built now: the global policy's variable dtype.

    float32 under a mixed policy (`mixed_bfloat16`: the matmuls compute in
    bfloat16, the embeddings, residual sums and LayerNorms do not); the
    policy's own dtype otherwise.
    """
    return tf_keras.mixed_precision.global_policy().variable_dtype


def build_sublayer(layer: tf_keras.layers.Layer, input_shape) -> None:
    """Builds `layer` now, its variables named under the layer's own name."""
    with tf.name_scope(layer.name):
        layer.build(input_shape)


@tf_keras.saving.register_keras_serializable(package="bert_tf")
class LayerNorm(tf_keras.layers.LayerNormalization):
    """`LayerNormalization` over the last axis, written as the ops oneDNN fuses.

    Same variables (`gamma`, `beta`), config and outputs (to ~1e-6) as the
    Keras layer, but the mean / variance / scale ops are spelled out the way
    TensorFlow's CPU graph rewrite recognizes and replaces with one oneDNN
    layer-norm kernel (the Keras layer's `fused_batch_norm` form is not
    fused; docs/performance.md has the speed-up). Elsewhere (GPU,
    XLA) they are plain ops. Half-precision inputs are normalized in float32,
    as the Keras layer does. The encoder's LayerNorms are built with
    `dtype=stream_dtype()`: float32 under a mixed policy.

    Call: `[..., hidden]` -> `[..., hidden]`.
    """

    def __init__(self, epsilon: float = 1e-3, **kwargs):
        if "axis" in kwargs:
            raise ValueError(
                f"LayerNorm normalizes the last axis only; got axis={kwargs['axis']!r}"
            )
        super().__init__(axis=-1, epsilon=epsilon, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["axis"]  # Always the last one.
        return config

    def call(self, inputs):
        # Half-precision inputs are normalized in float32, like the Keras layer does.
        dtype = tf.float32 if self.compute_dtype in ("float16", "bfloat16") else self.compute_dtype
        x = tf.cast(inputs, dtype)
        mean = tf.reduce_mean(x, axis=-1, keepdims=True)
        variance = tf.reduce_mean(tf.math.squared_difference(x, mean), axis=-1, keepdims=True)
        outputs = (x - mean) * tf.math.rsqrt(variance + self.epsilon)
        if self.scale:
            outputs = outputs * tf.cast(self.gamma, dtype)
        if self.center:
            outputs = outputs + tf.cast(self.beta, dtype)
        return tf.cast(outputs, self.compute_dtype)


@tf_keras.saving.register_keras_serializable(package="bert_tf")
class BertEmbeddings(tf_keras.layers.Layer):
    """Word + position + type embeddings, then LayerNorm and dropout.

    Call: `embeddings(word_ids, type_ids)` with int32 `[batch, seq]` ids returns
    `[batch, seq, hidden]` in `stream_dtype()`. Positions are `0 .. seq-1`.
    Under a mixed policy it is a float32 layer: the gathers are cheap, and the
    tables (shared with the MLM head) and the start of the residual stream
    keep full precision.

    Attributes:
        word_embeddings: the `[vocab_size, hidden]` table (shared with the MLM head).
        position_embeddings: `[max_position_embeddings, hidden]`.
        type_embeddings: `[type_vocab_size, hidden]`.
        layer_norm: the LayerNorm after the sum.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        max_position_embeddings: int,
        type_vocab_size: int,
        dropout: float,
        layer_norm_eps: float,
        initializer_range: float,
        initialize: bool = True,
        **kwargs,
    ):
        kwargs.setdefault("dtype", stream_dtype())  # See the class docstring.
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.dropout = dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.initialize = initialize
        self.layer_norm = LayerNorm(epsilon=layer_norm_eps, dtype=self.dtype, name="layer_norm")
        self.dropout_layer = tf_keras.layers.Dropout(dropout, name="dropout")

    def build(self, input_shape):
        def table(name, rows):
            return self.add_weight(
                name,
                shape=[rows, self.hidden_size],
                initializer=initializer(self.initializer_range, self.initialize),
            )

        self.word_embeddings = table("word_embeddings", self.vocab_size)
        self.position_embeddings = table("position_embeddings", self.max_position_embeddings)
        self.type_embeddings = table("type_embeddings", self.type_vocab_size)
        build_sublayer(self.layer_norm, [None, None, self.hidden_size])
        super().build(input_shape)

    def call(self, word_ids, type_ids, training=None):
        seq_length = tf.shape(word_ids)[1]
        # Under XLA this compiles to a no-op; elsewhere it names the problem.
        tf.debugging.assert_less_equal(
            seq_length,
            self.max_position_embeddings,
            message=f"seq_length is over max_position_embeddings ({self.max_position_embeddings})",
        )
        x = tf.gather(self.word_embeddings, word_ids)
        x += tf.gather(self.type_embeddings, type_ids)
        x += tf.expand_dims(self.position_embeddings[:seq_length], 0)
        x = self.layer_norm(x)
        return self.dropout_layer(x, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            dropout=self.dropout,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
            initialize=self.initialize,
        )
        return config


@tf_keras.saving.register_keras_serializable(package="bert_tf")
class AttentionMask(tf_keras.layers.Layer):
    """The additive attention bias from `input_mask`, computed once per encoder call.

    Call: `attention_mask(input_mask)` with int `[batch, seq]` (1 = real token)
    returns float32 `[batch, 1, 1, seq]`: 0 where attended, a large negative
    number at padding, to add to the `[batch, heads, query, key]` scores.
    """

    LARGE_NEGATIVE = -1e9

    def __init__(self, **kwargs):
        kwargs["dtype"] = "float32"  # The bias is added to float32 scores.
        super().__init__(**kwargs)

    def call(self, input_mask):
        mask = tf.cast(input_mask, tf.float32)
        return (1.0 - mask)[:, tf.newaxis, tf.newaxis, :] * self.LARGE_NEGATIVE


class _HeadsDense(tf_keras.layers.Layer):
    """A dense projection between `[batch, seq, hidden]` and attention heads, as one 2-D MatMul.

    The kernel keeps the head axis (the layout the checkpoint name tables fill)
    and is reshaped to 2-D in the graph. Not an einsum: TensorFlow's CPU Einsum
    kernel for bfloat16 (where oneDNN has no bfloat16 kernels, CPUs without
    AVX512) is ~20x slower than MatMul and rounds its partial sums to bfloat16;
    MatMul + BiasAdd accumulate in float32 and are what oneDNN fuses.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        initializer_range: float,
        initialize: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.initializer_range = initializer_range
        self.initialize = initialize
        self.head_size = hidden_size // num_heads

    def _add_weights(self, kernel_shape, bias_shape):
        self.kernel = self.add_weight(
            "kernel",
            shape=kernel_shape,
            initializer=initializer(self.initializer_range, self.initialize),
        )
        self.bias = self.add_weight("bias", shape=bias_shape, initializer="zeros")

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            initializer_range=self.initializer_range,
            initialize=self.initialize,
        )
        return config


@tf_keras.saving.register_keras_serializable(package="bert_tf")
class SplitHeadsDense(_HeadsDense):
    """The query, key or value projection, heads first.

    Call: `[batch, seq, hidden]` -> `[batch, heads, seq, head_size]`.

    Attributes:
        kernel: `[hidden, heads, head_size]`.
        bias: `[heads, 1, head_size]`.
    """

    def build(self, input_shape):
        self._add_weights(
            [self.hidden_size, self.num_heads, self.head_size], [self.num_heads, 1, self.head_size]
        )
        super().build(input_shape)

    def call(self, x):
        batch, seq = tf.shape(x)[0], tf.shape(x)[1]
        y = tf.matmul(
            tf.reshape(x, [-1, self.hidden_size]), tf.reshape(self.kernel, [self.hidden_size, -1])
        )
        y = tf.nn.bias_add(y, tf.reshape(self.bias, [-1]))  # [batch * seq, heads * head_size]
        y = tf.reshape(y, [batch, seq, self.num_heads, self.head_size])
        return tf.transpose(y, [0, 2, 1, 3])


@tf_keras.saving.register_keras_serializable(package="bert_tf")
class MergeHeadsDense(_HeadsDense):
    """The attention output projection from the heads back to the hidden size.

    Call: `[batch, heads, seq, head_size]` -> `[batch, seq, hidden]`.

    Attributes:
        kernel: `[heads, head_size, hidden]`.
        bias: `[hidden]`.
    """

    def build(self, input_shape):
        self._add_weights([self.num_heads, self.head_size, self.hidden_size], [self.hidden_size])
        super().build(input_shape)

    def call(self, x):
        batch, seq = tf.shape(x)[0], tf.shape(x)[2]
        x = tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [-1, self.hidden_size])
        y = tf.matmul(x, tf.reshape(self.kernel, [-1, self.hidden_size]))
        y = tf.nn.bias_add(y, self.bias)  # [batch * seq, hidden]
        return tf.reshape(y, [batch, seq, self.hidden_size])


@tf_keras.saving.register_keras_serializable(package="bert_tf")
class TransformerBlock(tf_keras.layers.Layer):
    """One post-LayerNorm BERT block: self-attention, then feed-forward.

    Call: `block(x, attention_mask=bias)` with `x` `[batch, seq, hidden]` and the
    `AttentionMask` output `[batch, 1, 1, seq]`; returns `[batch, seq, hidden]`.
    Softmax runs in float32 under any policy. Under a mixed-precision policy
    the projections, the two attention products and the feed-forward matmuls
    compute in the policy's dtype; the input and output (the residual stream),
    the residual sums and LayerNorm stay in the variable dtype (float32).

    Attributes (the weights the checkpoint readers fill):
        query, key, value: `SplitHeadsDense`, kernel `[hidden, heads, head_size]`,
            bias `[heads, 1, head_size]`; outputs `[batch, heads, seq, head_size]`.
        attention_output: `MergeHeadsDense`, kernel `[heads, head_size, hidden]`.
        attention_layer_norm, output_layer_norm: `LayerNorm`.
        intermediate: `Dense` `[hidden, intermediate]` (activation applied after).
        output_dense: `Dense` `[intermediate, hidden]`.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        intermediate_size: int,
        hidden_act: str,
        hidden_dropout: float,
        attention_dropout: float,
        layer_norm_eps: float,
        initializer_range: float,
        initialize: bool = True,
        **kwargs,
    ):
        # The input is the float32 residual stream: `call` casts it once for
        # the matmuls instead of Keras rounding it on the way in.
        kwargs["autocast"] = False
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size {hidden_size} is not a multiple of num_heads {num_heads}"
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.initialize = initialize
        self._activation = activation(hidden_act)
        head_size = hidden_size // num_heads
        self._scale = 1.0 / math.sqrt(head_size)

        def projection(layer, name):
            return layer(
                hidden_size,
                num_heads,
                initializer_range,
                initialize,
                name=name,
            )

        self.query = projection(SplitHeadsDense, "query")
        self.key = projection(SplitHeadsDense, "key")
        self.value = projection(SplitHeadsDense, "value")
        self.attention_output = projection(MergeHeadsDense, "attention_output")
        self.attention_probs_dropout = tf_keras.layers.Dropout(
            attention_dropout, name="attention_probs_dropout"
        )
        self.attention_output_dropout = tf_keras.layers.Dropout(
            hidden_dropout, name="attention_output_dropout"
        )
        self.attention_layer_norm = LayerNorm(
            epsilon=layer_norm_eps, dtype=self.variable_dtype, name="attention_layer_norm"
        )
        self.intermediate = tf_keras.layers.Dense(
            intermediate_size,
            kernel_initializer=initializer(initializer_range, initialize),
            name="intermediate",
        )
        self.output_dense = tf_keras.layers.Dense(
            hidden_size,
            kernel_initializer=initializer(initializer_range, initialize),
            name="output",
        )
        self.output_dropout = tf_keras.layers.Dropout(hidden_dropout, name="output_dropout")
        self.output_layer_norm = LayerNorm(
            epsilon=layer_norm_eps, dtype=self.variable_dtype, name="output_layer_norm"
        )

    def build(self, input_shape):
        hidden = [None, None, self.hidden_size]
        for layer in (self.query, self.key, self.value):
            build_sublayer(layer, hidden)
        build_sublayer(
            self.attention_output, [None, self.num_heads, None, self.hidden_size // self.num_heads]
        )
        build_sublayer(self.attention_layer_norm, hidden)
        build_sublayer(self.intermediate, [None, self.hidden_size])
        build_sublayer(self.output_dense, [None, self.intermediate_size])
        build_sublayer(self.output_layer_norm, [None, self.hidden_size])
        super().build(input_shape)

    def call(self, x, attention_mask, training=None):
        x = tf.cast(x, self.variable_dtype)  # The residual stream (a no-op in the encoder).
        compute_dtype = self.compute_dtype
        h = tf.cast(x, compute_dtype)  # Once for q, k and v (no-op in float32).
        q = self.query(h) * tf.cast(self._scale, compute_dtype)  # [batch, heads, seq, head_size]
        k = self.key(h)
        v = self.value(h)
        scores = tf.matmul(q, k, transpose_b=True)  # [batch, heads, seq, seq]
        scores = tf.cast(scores, tf.float32) + tf.cast(attention_mask, tf.float32)
        probs = tf.cast(tf.nn.softmax(scores, axis=-1), compute_dtype)
        probs = self.attention_probs_dropout(probs, training=training)
        context = tf.matmul(probs, v)  # [batch, heads, seq, head_size]
        attention = self.attention_output(context)
        attention = self.attention_output_dropout(attention, training=training)
        x = self.attention_layer_norm(x + tf.cast(attention, x.dtype))
        # The feed-forward part runs on `[batch * seq, hidden]`: a 2-D MatMul,
        # BiasAdd and activation in a row is what TensorFlow's CPU graph
        # rewrites fuse into one oneDNN kernel (on 3-D inputs `Dense` reshapes
        # between them). Same outputs; docs/performance.md has the speed-up.
        tokens = tf.reshape(x, [-1, self.hidden_size])  # [batch * seq, hidden]
        hidden = self._activation(self.intermediate(tokens))  # [batch * seq, intermediate]
        out = self.output_dropout(self.output_dense(hidden), training=training)
        out = self.output_layer_norm(tokens + tf.cast(out, tokens.dtype))
        return tf.reshape(out, tf.shape(x))

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            hidden_dropout=self.hidden_dropout,
            attention_dropout=self.attention_dropout,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
            initialize=self.initialize,
        )
        return config


@tf_keras.saving.register_keras_serializable(package="bert_tf")
class BertPooler(tf_keras.layers.Layer):
    """The tanh pooler: a dense layer over the first (`[CLS]`) position.

    Call: `pooler(sequence_output)` `[batch, seq, hidden]` -> `[batch, hidden]`.

    Attributes:
        dense: `Dense` `[hidden, hidden]` with tanh.
    """

    def __init__(
        self, hidden_size: int, initializer_range: float, initialize: bool = True, **kwargs
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        self.initialize = initialize
        self.dense = tf_keras.layers.Dense(
            hidden_size,
            activation="tanh",
            kernel_initializer=initializer(initializer_range, initialize),
            name="dense",
        )

    def build(self, input_shape):
        build_sublayer(self.dense, [None, self.hidden_size])
        super().build(input_shape)

    def call(self, sequence_output):
        return self.dense(sequence_output[:, 0, :])

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            initializer_range=self.initializer_range,
            initialize=self.initialize,
        )
        return config
