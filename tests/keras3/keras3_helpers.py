"""Data and the issue's model snippet, shared by the Keras 3 layer tests."""

import os

import numpy as np

SEQ_LENGTH = 24
# A pair task a tiny random encoder can learn in a few steps: the label is
# whether the hypothesis repeats the premise's noun.
NOUNS = ("cat", "dog", "man", "woman")  # all in the tiny vocab


def pair_task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` (premise, hypothesis, label) rows: label 1 iff the two name the same noun."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(NOUNS), n)
    same = rng.integers(0, 2, n)
    second = np.where(same == 1, first, (first + rng.integers(1, len(NOUNS), n)) % len(NOUNS))
    premises = np.array([f"the {NOUNS[i]} runs" for i in first], dtype=object)
    hypotheses = np.array([f"a {NOUNS[i]}" for i in second], dtype=object)
    return premises, hypotheses, same.astype(np.int32)


def build_snippet(export_dir, seq_length: int = SEQ_LENGTH, num_classes: int = 3, seed: int = 0):
    """The issue's snippet: two string inputs -> PreprocessLayer -> EncoderLayer -> Dense."""
    import keras

    from bert_tf.keras3 import EncoderLayer, PreprocessLayer

    preprocess = PreprocessLayer(os.path.join(export_dir, "preprocess"), seq_length=seq_length)
    encoder = EncoderLayer(os.path.join(export_dir, "encoder"), trainable=True)
    premise = keras.Input(shape=(), dtype="string", name="premise")
    hypothesis = keras.Input(shape=(), dtype="string", name="hypothesis")
    packed = preprocess([premise, hypothesis])
    outputs = encoder(packed)
    logits = keras.layers.Dense(
        num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed=seed)
    )(outputs["pooled_output"])
    return keras.Model([premise, hypothesis], logits), encoder
