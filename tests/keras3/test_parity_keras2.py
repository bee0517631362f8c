"""Keras 3 `EncoderLayer` and Keras 2 `hub.KerasLayer` give the same outputs on the same batch."""

import os

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import interface

TEXTS = (["The cat sat on the mat.", "", "naïve café 猫 Ünïcödé " * 8], ["a dog", "no", "yes"])


def _compare(export_dir, seq_length):
    import tensorflow_hub as hub

    from bert_tf.keras3 import EncoderLayer, PreprocessLayer

    preprocess = PreprocessLayer(os.path.join(export_dir, "preprocess"), seq_length=seq_length)
    packed = preprocess([tf.constant(t) for t in TEXTS])
    keras3_outputs = EncoderLayer(os.path.join(export_dir, "encoder"))(packed, training=False)
    hub_layer = hub.KerasLayer(os.path.join(export_dir, "encoder"), trainable=True)  # tf_keras
    keras2_outputs = hub_layer(dict(packed), training=False)
    restored = tf.saved_model.load(os.path.join(export_dir, "encoder"))
    reference = interface.flat_outputs(restored(dict(packed), training=False))
    for outputs in (keras3_outputs, keras2_outputs):
        flat = interface.flat_outputs(outputs)
        assert set(flat) == set(reference)
        for key, expected in reference.items():
            np.testing.assert_allclose(flat[key], expected, atol=1e-5, rtol=0, err_msg=key)


def test_parity_tiny(keras3, tiny_export):
    _compare(tiny_export, seq_length=24)


@pytest.mark.slow
def test_parity_minilm(keras3, minilm_export_dir):
    _compare(minilm_export_dir, seq_length=64)
