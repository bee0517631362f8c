"""What `keras.layers.TFSMLayer` cannot do with an export, and `EncoderLayer` does.

The claim of docs/keras3.md: TFSMLayer wraps the restored variables under their
TF names (`...:0`), so a Keras 3 optimizer with slots fails on the first step;
its `serving_default` endpoint has no training mode. If a Keras release fixes
the first, this test fails and the docs need updating.
"""

import os

import numpy as np
import pytest
import tensorflow as tf


def _packed_inputs(keras):
    from bert_tf.interface import ENCODER_INPUTS

    return {k: keras.Input(shape=(None,), dtype="int32", name=k) for k in ENCODER_INPUTS}


def _data(export_dir):
    from bert_tf.keras3 import PreprocessLayer

    packed = PreprocessLayer(export_dir / "preprocess", seq_length=16)(
        tf.constant(["the cat sat", "a dog runs", "hello world", "good night"] * 2)
    )
    return {k: v.numpy() for k, v in packed.items()}, np.array([0, 1] * 4, np.int32)


def test_tfsm_layer_fails_with_adam_where_encoder_layer_trains(keras3, tiny_export):
    keras = keras3
    from bert_tf.keras3 import EncoderLayer

    x, y = _data(tiny_export)
    tfsm = keras.layers.TFSMLayer(
        os.fspath(tiny_export / "encoder"), call_endpoint="serving_default", trainable=True
    )
    assert any(":0" in v.name for v in tfsm.trainable_weights)
    inputs = _packed_inputs(keras)
    model = keras.Model(inputs, keras.layers.Dense(2)(tfsm(inputs)["pooled_output"]))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    with pytest.raises(ValueError, match="is not a valid scope name"):
        model.fit(x, y, epochs=1, verbose=0)

    inputs = _packed_inputs(keras)
    encoder = EncoderLayer(tiny_export / "encoder")
    model = keras.Model(inputs, keras.layers.Dense(2)(encoder(inputs)["pooled_output"]))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(x, y, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_tfsm_serving_default_has_no_dropout(keras3, tiny_export):
    keras = keras3
    x, _ = _data(tiny_export)
    tfsm = keras.layers.TFSMLayer(
        os.fspath(tiny_export / "encoder"), call_endpoint="serving_default", trainable=True
    )
    first = tfsm(x, training=True)["sequence_output"].numpy()
    second = tfsm(x, training=True)["sequence_output"].numpy()
    np.testing.assert_array_equal(first, second)  # training=True still runs inference
