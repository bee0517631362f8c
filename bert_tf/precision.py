"""The precisions an encoder can be built and exported in, and the Keras policy of each.

`float32` is the default. `bfloat16` builds the encoder under tf_keras's
`mixed_bfloat16` policy: the projections, attention products and feed-forward
matmuls compute in bfloat16 (oneDNN's AVX512_BF16 / AMX kernels on CPUs that
have them, tensor cores on accelerators), while the variables stay float32
(what `hub.KerasLayer(..., trainable=True)` fine-tunes), and the embeddings,
the residual stream, LayerNorm, the attention softmax and every output stay
float32 (`bert_tf.layers`), as PyTorch's `torch.autocast` does.

Imports no TensorFlow at module level (the CLI's `--help` stays fast).

>>> PRECISIONS
('float32', 'bfloat16')
>>> keras_policy("bfloat16")
'mixed_bfloat16'
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

FLOAT32 = "float32"
BFLOAT16 = "bfloat16"
PRECISIONS = (FLOAT32, BFLOAT16)
_KERAS_POLICIES = {FLOAT32: "float32", BFLOAT16: "mixed_bfloat16"}


def keras_policy(precision: str) -> str:
    """The tf_keras dtype policy name of a precision in `PRECISIONS`.

    Raises:
        ValueError: `precision` is not one of `PRECISIONS`.
    """
    if precision not in _KERAS_POLICIES:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, found {precision!r}")
    return _KERAS_POLICIES[precision]


@contextlib.contextmanager
def policy_scope(precision: str) -> Iterator[None]:
    """Layers created inside take `precision`'s Keras policy; the previous one is restored after.

    tf_keras layers read the global policy when they are constructed (sub-layers
    do not inherit their parent's), so the whole encoder is built inside one scope.
    """
    import tf_keras

    policy = keras_policy(precision)
    previous = tf_keras.mixed_precision.global_policy()
    tf_keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        tf_keras.mixed_precision.set_global_policy(previous)


NEAREST = "nearest"
TOWARD_ZERO = "toward_zero"


@functools.cache
def host_bfloat16_matmul_rounding() -> str:
    """How this host's TensorFlow CPU `MatMul` rounds its bfloat16 results: `NEAREST` or `TOWARD_ZERO`.

    bfloat16 hardware (oneDNN's AVX512_BF16 / AMX kernels, GPUs, TPUs) and XLA
    accumulate in float32 and round the result to nearest. On CPUs without
    bfloat16 instructions TensorFlow's own MatMul kernel truncates the float32
    result instead, which biases every activation toward zero (and runs slower
    than float32 there). A product whose exact value lies above the halfway
    point between two bfloat16 numbers tells the two apart.
    """
    import tensorflow as tf

    with tf.device("/CPU:0"):
        # (1 + 11/128)**2 = 1 + 22.945/128: nearest gives 1 + 23/128, truncation 1 + 22/128.
        value = tf.eye(64, dtype=tf.bfloat16) * tf.constant(1 + 11 / 128, tf.bfloat16)
        product = float(tf.matmul(value, value)[0, 0])
    return NEAREST if product == 1 + 23 / 128 else TOWARD_ZERO
