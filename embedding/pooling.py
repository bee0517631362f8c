"""Pooling, Dense layers and Normalize in TF ops: the one implementation of a `PoolingStack`.

`bert_tf.embed` / `bert-tf-embed` and the exported `embedding/` SavedModel
both run `EmbeddingHead`, so they give the same vectors. The math follows
sentence-transformers 6's `Pooling` (padded path, right padding):

- `cls`: the first token the pooling mask keeps (`[CLS]`, or the first token
  after the prompt when the prompt is excluded);
- `max`: the element-wise max over kept tokens;
- `mean` / `mean_sqrt_len_tokens`: the sum over kept tokens divided by their
  count / its square root (count at least 1e-9);
- `weightedmean`: kept tokens weighted by their position 1, 2, ...;
- `lasttoken`: the last kept token (a zero vector when none is kept).

Several modes are concatenated in `POOLING_MODES` order.

Example:

>>> import numpy as np
>>> sequence = tf.constant(np.arange(12, dtype=np.float32).reshape(1, 3, 4))
>>> mask = tf.constant([[1, 1, 0]])
>>> pool(sequence, mask, ("mean", "max")).numpy().tolist()
[[2.0, 3.0, 4.0, 5.0, 4.0, 5.0, 6.0, 7.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from bert_tf.checkpoints.sentence_transformers import PoolingStack

# torch.nn's activations as sentence-transformers' Dense applies them.
ACTIVATIONS = {
    "identity": tf.identity,
    "tanh": tf.math.tanh,
    "relu": tf.nn.relu,
    "gelu": lambda x: tf.nn.gelu(x, approximate=False),  # torch's default is the exact erf form
    "sigmoid": tf.math.sigmoid,
    "silu": tf.nn.silu,
    "leaky_relu": lambda x: tf.nn.leaky_relu(x, alpha=0.01),  # torch's default slope
    "elu": tf.nn.elu,
    "softplus": tf.math.softplus,
    "mish": lambda x: x * tf.math.tanh(tf.math.softplus(x)),
}


def _one_mode(sequence: tf.Tensor, mask: tf.Tensor, mode: str) -> tf.Tensor:
    """`[batch, hidden]` for one mode; `mask` is float32 `[batch, seq, 1]`."""
    if mode == "cls":
        first = tf.argmax(mask[:, :, 0], axis=1, output_type=tf.int32)
        return tf.gather(sequence, first, axis=1, batch_dims=1)
    if mode == "max":
        return tf.reduce_max(tf.where(mask > 0, sequence, -np.inf), axis=1)
    if mode in ("mean", "mean_sqrt_len_tokens"):
        total = tf.reduce_sum(sequence * mask, axis=1)
        count = tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
        return total / (count if mode == "mean" else tf.sqrt(count))
    if mode == "weightedmean":
        positions = tf.cast(tf.range(1, tf.shape(sequence)[1] + 1), sequence.dtype)
        weights = mask * positions[tf.newaxis, :, tf.newaxis]
        total = tf.reduce_sum(sequence * weights, axis=1)
        return total / tf.maximum(tf.reduce_sum(weights, axis=1), 1e-9)
    if mode == "lasttoken":
        kept = mask[:, :, 0]
        length = tf.shape(kept)[1]
        # The last kept position; sentence-transformers takes the last (masked) one if none is.
        reversed_first = tf.argmax(tf.reverse(kept, axis=[1]), axis=1, output_type=tf.int32)
        any_kept = tf.reduce_max(kept, axis=1) > 0
        last = tf.where(any_kept, length - 1 - reversed_first, length - 1)
        return tf.gather(sequence * mask, last, axis=1, batch_dims=1)
    raise ValueError(f"pooling mode: unknown {mode!r}")


def pool(sequence: tf.Tensor, pooling_mask: tf.Tensor, modes: Sequence[str]) -> tf.Tensor:
    """Pools token vectors into one vector per text.

    Args:
        sequence: float32 `[batch, seq_length, hidden]`, the last layer.
        pooling_mask: int `[batch, seq_length]`: 1 for the tokens that take part.
        modes: pooling modes, concatenated in this order.

    Returns:
        float32 `[batch, hidden * len(modes)]`.
    """
    mask = tf.cast(pooling_mask, sequence.dtype)[:, :, tf.newaxis]
    vectors = [_one_mode(sequence, mask, mode) for mode in modes]
    return vectors[0] if len(vectors) == 1 else tf.concat(vectors, axis=1)


def pooling_mask(input_mask: tf.Tensor, prompt_length: int, include_prompt: bool) -> tf.Tensor:
    """`input_mask` with the first `prompt_length` positions zeroed when the prompt is excluded.

    `prompt_length` counts `[CLS]` and the prompt's wordpieces, as
    sentence-transformers counts it.
    """
    if include_prompt or prompt_length <= 0:
        return input_mask
    keep = tf.range(tf.shape(input_mask)[1]) >= prompt_length
    return input_mask * tf.cast(keep, input_mask.dtype)[tf.newaxis, :]


class DenseVariables(tf.Module):
    """One Dense layer's weights as variables, and its activation's name.

    Args:
        kernel: float32 `[in, out]`.
        bias: float32 `[out]`, or None.
        activation: a key of `ACTIVATIONS`.
    """

    def __init__(self, kernel, bias, activation: str, name: str = "dense"):
        super().__init__(name=name)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}")
        self.kernel = tf.Variable(kernel, trainable=False, name="kernel")
        self.bias = None if bias is None else tf.Variable(bias, trainable=False, name="bias")
        self.activation = activation

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        y = tf.matmul(x, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        return ACTIVATIONS[self.activation](y)


class EmbeddingHead(tf.Module):
    """Pooling, then the Dense layers, then Normalize: `[batch, seq, hidden]` -> `[batch, dim]`.

    Args:
        stack: the `PoolingStack` to apply.
        dense: one `DenseVariables` per `stack.dense` entry (same order).
    """

    def __init__(self, stack: PoolingStack, dense: Sequence[DenseVariables] = (), name="head"):
        super().__init__(name=name)
        if len(dense) != len(stack.dense):
            raise ValueError(
                f"dense: expected {len(stack.dense)} layers for {stack.describe()}, "
                f"found {len(dense)}"
            )
        self.stack = stack
        self.dense = list(dense)

    @classmethod
    def from_stack(cls, stack: PoolingStack) -> EmbeddingHead:
        """The head with the Dense weights read from the files `stack` names."""
        from bert_tf.checkpoints.sentence_transformers import read_dense_weights

        layers = []
        for index, layer in enumerate(stack.dense):
            kernel, bias = read_dense_weights(layer)
            layers.append(DenseVariables(kernel, bias, layer.activation, name=f"dense_{index}"))
        return cls(stack, layers)

    def __call__(self, sequence: tf.Tensor, input_mask: tf.Tensor, prompt_length: int = 0):
        """Vectors for one batch.

        Args:
            sequence: float32 `[batch, seq_length, hidden]`, the encoder's last layer.
            input_mask: int32 `[batch, seq_length]`, the encoder's input mask.
            prompt_length: `[CLS]` plus the prompt's wordpieces (0: no prompt).

        Returns:
            float32 `[batch, stack.output_dimension]`.
        """
        mask = pooling_mask(input_mask, prompt_length, self.stack.include_prompt)
        vectors = pool(sequence, mask, self.stack.modes)
        for layer in self.dense:
            vectors = layer(vectors)
        if self.stack.normalize:
            # torch.nn.functional.normalize: x / max(||x||, 1e-12).
            vectors = tf.math.l2_normalize(vectors, axis=1, epsilon=1e-24)
        return vectors
