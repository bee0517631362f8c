r"""A short demo of an exported pair: sentence similarity through `hub.KerasLayer`.

Loads `EXPORT_DIR/preprocess` and `EXPORT_DIR/encoder` with `hub.KerasLayer`
(the way users load TF Hub models in tf_keras), embeds a few sentence pairs by
mean-pooling `sequence_output` over the real tokens (as sentence-transformers
does for all-MiniLM-L6-v2), and prints each pair's cosine similarity as a table.

`bert-tf-demo --export_dir=DIR` prints the table (what `make demo` runs after
exporting the bundled MiniLM).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from bert_tf import interface

PAIRS = (
    ("A man is playing a guitar.", "Someone is playing an instrument."),
    ("How do I reset my password?", "I forgot my password, how can I change it?"),
    ("The cat sits on the mat.", "A dog is running in the park."),
    ("The stock market fell sharply today.", "Bananas are rich in potassium."),
)


def embedding_model(export_dir: str):
    """A tf_keras model: strings `[batch]` -> mean-pooled, L2-normalized `[batch, hidden]`."""
    import warnings

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)
    import tf_keras

    with warnings.catch_warnings():  # tensorflow_hub 0.16 imports pkg_resources.
        warnings.simplefilter("ignore")
        import tensorflow_hub as hub

    layout = interface.check_export_dir(export_dir)
    preprocess = hub.KerasLayer(os.fspath(layout.preprocess_dir), name="preprocess")
    encoder = hub.KerasLayer(os.fspath(layout.encoder_dir), name="encoder")
    text = tf_keras.Input(shape=(), dtype=tf.string, name="text")
    inputs = preprocess(text)
    sequence = encoder(inputs)[interface.SEQUENCE_OUTPUT]
    mask = tf.cast(inputs[interface.INPUT_MASK], sequence.dtype)[:, :, None]
    mean = tf.reduce_sum(sequence * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
    return tf_keras.Model(text, tf.math.l2_normalize(mean, axis=-1), name="sentence_embedding")


def similarities(export_dir: str, pairs: Sequence[tuple[str, str]] = PAIRS) -> list[float]:
    """Cosine similarity of each pair's mean-pooled embeddings."""
    import numpy as np
    import tensorflow as tf

    model = embedding_model(export_dir)
    first = model(tf.constant([a for a, _ in pairs])).numpy()
    second = model(tf.constant([b for _, b in pairs])).numpy()
    return [float(x) for x in np.sum(first * second, axis=-1)]


def format_table(pairs: Sequence[tuple[str, str]], scores: Sequence[float]) -> str:
    """The pairs and their similarities as a small text table."""
    width_a = max(len("sentence A"), *(len(a) for a, _ in pairs))
    width_b = max(len("sentence B"), *(len(b) for _, b in pairs))
    rule = f"+-{'-' * width_a}-+-{'-' * width_b}-+------------+"
    lines = [rule, f"| {'sentence A':<{width_a}} | {'sentence B':<{width_b}} | similarity |", rule]
    lines += [
        f"| {a:<{width_a}} | {b:<{width_b}} | {s:>10.3f} |" for (a, b), s in zip(pairs, scores)
    ]
    lines.append(rule)
    return "\n".join(lines)
