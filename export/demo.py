r"""A short demo of an exported pair: sentence similarity through `hub.KerasLayer`.

Loads `EXPORT_DIR/preprocess` and `EXPORT_DIR/encoder` with `hub.KerasLayer`
(the way users load TF Hub models in tf_keras), embeds a few sentence pairs by
mean-pooling `sequence_output` over the real tokens (as sentence-transformers
does for all-MiniLM-L6-v2), and prints each pair's cosine similarity as a table.

Example (what `make demo` runs after exporting the bundled MiniLM):

  python -m export.demo --export_dir=exports/all-MiniLM-L6-v2
"""

from __future__ import annotations

import os
from typing import Sequence

from absl import app, flags

from export import cli

PAIRS = (
    ("A man is playing a guitar.", "Someone is playing an instrument."),
    ("How do I reset my password?", "I forgot my password, how can I change it?"),
    ("The cat sits on the mat.", "A dog is running in the park."),
    ("The stock market fell sharply today.", "Bananas are rich in potassium."),
)

# allow_override: `export.embed` and `finetune` have an --export_dir flag too.
flags.DEFINE_string("export_dir", None, "The export folder (holding encoder/ and preprocess/).",
                    allow_override=True)


def embedding_model(export_dir: str):
    """A tf_keras model: strings `[batch]` -> mean-pooled, L2-normalized `[batch, hidden]`."""
    import warnings

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)
    import tf_keras

    with warnings.catch_warnings():  # tensorflow_hub 0.16 imports pkg_resources.
        warnings.simplefilter("ignore")
        import tensorflow_hub as hub

    preprocess = hub.KerasLayer(os.path.join(export_dir, "preprocess"), name="preprocess")
    encoder = hub.KerasLayer(os.path.join(export_dir, "encoder"), name="encoder")
    text = tf_keras.Input(shape=(), dtype=tf.string, name="text")
    inputs = preprocess(text)
    sequence = encoder(inputs)["sequence_output"]
    mask = tf.cast(inputs["input_mask"], sequence.dtype)[:, :, None]
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
    lines += [f"| {a:<{width_a}} | {b:<{width_b}} | {s:>10.3f} |"
              for (a, b), s in zip(pairs, scores)]
    lines.append(rule)
    return "\n".join(lines)


def main(argv) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    export_dir = flags.FLAGS.export_dir
    if not export_dir:
        raise app.UsageError("missing --export_dir (see --help)")
    from export.inspect import check_export_dir

    check_export_dir(export_dir)
    print(f"Sentence similarity with {export_dir} (hub.KerasLayer, mean pooling, cosine):")
    print(format_table(PAIRS, similarities(export_dir)))
    return 0


def run() -> None:
    """Runs the demo (`python -m export.demo`)."""
    cli.run(main)


if __name__ == "__main__":
    run()
