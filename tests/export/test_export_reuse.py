"""The tiny exported encoder as users reuse it: fine-tuning, dropout, XLA, mlm, fill-mask."""

from __future__ import annotations

import os
import re
import warnings

import checkpoint_factory
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)
import tf_keras
from export_helpers import assert_close, run_cli

import bert_tf.cli.fill_mask as fill_mask_cli
from bert_tf.export import fill_mask
from bert_tf.interface import ExportDirError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import tensorflow_hub as hub


def _inputs(batch=2, seq=9):
    ids = np.arange(5, 5 + batch * seq, dtype=np.int32).reshape(batch, seq) % 100 + 5
    ids[:, 0], ids[:, 4], ids[:, -1] = 2, 3, 3
    mask = np.ones_like(ids)
    mask[1, 7:] = 0
    types = np.zeros_like(ids)
    types[:, 5:] = 1
    return {
        "input_word_ids": tf.constant(ids),
        "input_mask": tf.constant(mask),
        "input_type_ids": tf.constant(types),
    }


def test_hub_keras_layer_fine_tunes_every_weight(tiny_mlm_export, tiny_config):
    encoder_dir = os.fspath(tiny_mlm_export / "encoder")
    layer = hub.KerasLayer(encoder_dir, trainable=True)
    loaded = hub.load(encoder_dir)
    # Exactly the encoder's weights: the MLM head's own weights live in `mlm` only.
    assert {v.name for v in layer.trainable_variables} == {
        v.name for v in loaded.trainable_variables
    }
    assert len(loaded.mlm.trainable_variables) > len(loaded.trainable_variables)
    assert isinstance(loaded.regularization_losses, (list, tuple))
    assert not hub.KerasLayer(encoder_dir, trainable=False).trainable_weights

    inputs = _inputs()
    with tf.GradientTape() as tape:
        out = layer(inputs, training=True)
        loss = tf.reduce_sum(out["pooled_output"] ** 2) + tf.reduce_sum(out["sequence_output"])
    grads = tape.gradient(loss, layer.trainable_variables)
    without = [
        v.name
        for v, g in zip(layer.trainable_variables, grads)
        if g is None or not np.any(tf.convert_to_tensor(g).numpy())
    ]
    assert not without, f"no gradient for {without}"


def test_dropout_only_in_training(tiny_mlm_export):
    layer = hub.KerasLayer(os.fspath(tiny_mlm_export / "encoder"), trainable=True)
    inputs = _inputs()
    a = layer(inputs, training=False)["sequence_output"]
    b = layer(inputs, training=False)["sequence_output"]
    np.testing.assert_array_equal(a, b)
    c = layer(inputs, training=True)["sequence_output"]
    d = layer(inputs, training=True)["sequence_output"]
    assert float(tf.reduce_max(tf.abs(c - d))) > 1e-3
    assert float(tf.reduce_max(tf.abs(a - c))) > 1e-3


def test_fine_tuning_in_a_keras_model(tiny_mlm_export):
    """A classifier over preprocess + encoder trains: the loss goes down, weights move."""
    preprocess = hub.KerasLayer(os.fspath(tiny_mlm_export / "preprocess"))
    encoder = hub.KerasLayer(os.fspath(tiny_mlm_export / "encoder"), trainable=True)
    text = tf_keras.Input(shape=(), dtype=tf.string)
    logits = tf_keras.layers.Dense(2)(encoder(preprocess(text))["pooled_output"])
    model = tf_keras.Model(text, logits)
    model.compile(
        tf_keras.optimizers.Adam(1e-3),
        tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    texts = tf.constant(
        ["the cat sat on the mat", "a dog is big", "i read a good book", "the red car was bad"]
    )
    labels = tf.constant([0, 1, 0, 1])
    before = [v.numpy().copy() for v in encoder.trainable_variables]
    loss_before = model.evaluate(texts, labels, verbose=0)
    model.fit(texts, labels, epochs=10, batch_size=4, verbose=0)
    assert model.evaluate(texts, labels, verbose=0) < loss_before
    moved = sum(
        not np.array_equal(b, v.numpy()) for b, v in zip(before, encoder.trainable_variables)
    )
    assert moved == len(before)


def test_xla_compiles_the_loaded_encoder(tiny_mlm_export):
    encoder = tf.saved_model.load(os.fspath(tiny_mlm_export / "encoder"))
    inputs = _inputs()
    eager = encoder(inputs, training=False)
    compiled = tf.function(lambda x: encoder(x, training=False), jit_compile=True)(inputs)
    for key in ("pooled_output", "sequence_output"):
        assert_close(compiled[key], eager[key], atol=1e-5, what=key)
    mlm_inputs = {**inputs, "masked_lm_positions": tf.constant([[1, 2], [3, 6]])}
    eager_mlm = encoder.mlm(mlm_inputs, training=False)
    xla_mlm = tf.function(lambda x: encoder.mlm(x, training=False), jit_compile=True)(mlm_inputs)
    assert_close(xla_mlm["mlm_logits"], eager_mlm["mlm_logits"], atol=1e-4)
    assert eager_mlm["mlm_logits"].shape == (2, 2, 116)


def test_fill_mask_library_and_cli(tiny_mlm_export, capsys):
    predictions = fill_mask.fill_mask(tiny_mlm_export, "the cat [MASK] on the [MASK].", top_k=4)
    assert len(predictions) == 2
    for options in predictions:
        probs = [p for _, p in options]
        assert len(options) == 4 and probs == sorted(probs, reverse=True)
        assert 0 < sum(probs) <= 1 + 1e-6
    # The same logits as calling encoder.mlm by hand on [CLS] the cat [MASK] ... [SEP].
    encoder = tf.saved_model.load(os.fspath(tiny_mlm_export / "encoder"))
    vocab = checkpoint_factory.BASE_VOCAB
    ids = [
        vocab.index(t)
        for t in ("[CLS]", "the", "cat", "[MASK]", "on", "the", "[MASK]", ".", "[SEP]")
    ]
    logits = encoder.mlm(
        {
            "input_word_ids": tf.constant([ids]),
            "input_mask": tf.ones([1, 9], tf.int32),
            "input_type_ids": tf.zeros([1, 9], tf.int32),
            "masked_lm_positions": tf.constant([[3, 6]]),
        },
        training=False,
    )["mlm_logits"][0]
    probs = tf.nn.softmax(logits).numpy()
    assert [token for token, _ in predictions[0]][0] == fill_mask._vocab_tokens(
        tf.saved_model.load(os.fspath(tiny_mlm_export / "preprocess"))
    )[int(probs[0].argmax())]
    assert predictions[1][0][1] == pytest.approx(float(probs[1].max()), abs=1e-6)

    assert run_cli(fill_mask_cli, "--top_k=3", os.fspath(tiny_mlm_export), "the [MASK] sat") == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 5 and out[1] == "[MASK] 1:"
    best = out[2].split()[-1]
    assert out[0] == f"the {best} sat"
    assert all(line.strip().split()[0].endswith("%") for line in out[2:])


def test_fill_mask_errors(tiny_mlm_export, minilm_export_dir, tmp_path, capsys):
    cases = [
        (tiny_mlm_export, "no mask here", "the text has no [MASK]"),
        (
            minilm_export_dir,
            "a [MASK].",
            "the encoder has no masked-LM head (mlm): re-export with --with_mlm",
        ),
        (tmp_path / "nothing", "a [MASK].", "no such export folder"),
    ]
    for export_dir, text, message in cases:
        assert run_cli(fill_mask_cli, os.fspath(export_dir), text) == 1
        err = capsys.readouterr().err
        assert "error: " in err and message in err, err
        assert "Traceback" not in err
        with pytest.raises(ExportDirError, match=re.escape(message)):
            fill_mask.fill_mask(export_dir, text)


def test_fine_tunes_under_a_distribution_strategy(tiny_mlm_export):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        encoder = hub.KerasLayer(os.fspath(tiny_mlm_export / "encoder"), trainable=True)
        inputs = {
            k: tf_keras.Input(shape=(None,), dtype=tf.int32, name=k)
            for k in ("input_word_ids", "input_mask", "input_type_ids")
        }
        model = tf_keras.Model(inputs, tf_keras.layers.Dense(2)(encoder(inputs)["pooled_output"]))
        model.compile(
            tf_keras.optimizers.SGD(0.1),
            tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    features = {k: v.numpy() for k, v in _inputs(batch=4).items()}
    before = encoder.trainable_variables[0].numpy().copy()
    model.fit(features, np.array([0, 1, 0, 1]), epochs=1, batch_size=4, verbose=0)
    assert not np.array_equal(before, encoder.trainable_variables[0].numpy())
