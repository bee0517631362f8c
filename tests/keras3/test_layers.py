"""The Keras 3 layers on a tiny random export: fit, dropout, parity, no copies, save, serve."""

import os

import numpy as np
import pytest
import tensorflow as tf
from keras3_helpers import SEQ_LENGTH, build_snippet, pair_task

from bert_tf import interface


def _dataset(n=64, seed=0, batch=16):
    premises, hypotheses, labels = pair_task(n, seed)
    return tf.data.Dataset.from_tensor_slices(((premises, hypotheses), labels)).batch(batch)


def _packed(export_dir, texts=("the cat sat on the mat", "hello world", "")):
    from bert_tf.keras3 import PreprocessLayer

    preprocess = PreprocessLayer(os.path.join(export_dir, "preprocess"), seq_length=SEQ_LENGTH)
    return preprocess(tf.constant(list(texts)))


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_snippet_fits_with_slot_optimizers(keras3, tiny_export, optimizer):
    keras = keras3
    model, encoder = build_snippet(tiny_export, num_classes=2)
    make = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW}[optimizer]
    model.compile(
        optimizer=make(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    before = [v.numpy().copy() for v in encoder.restored.variables]
    history = model.fit(_dataset(), epochs=4, verbose=0)
    after = [v.numpy() for v in encoder.restored.variables]
    changed = sum(not np.array_equal(b, a) for b, a in zip(before, after))
    # The restored object's own variables moved: the layer trains them, not copies.
    assert changed >= 0.95 * len(before), (changed, len(before))
    losses = history.history["loss"]
    assert losses[-1] < losses[0], losses
    assert len(encoder.trainable_weights) == len(encoder.restored.trainable_variables)


def test_variable_names_are_valid_scope_names(keras3, tiny_export):
    from bert_tf.keras3 import EncoderLayer

    encoder = EncoderLayer(os.path.join(tiny_export, "encoder"))
    encoder(_packed(tiny_export))
    for variable in encoder.weights:
        assert ":" not in variable.path, variable.path
        with tf.name_scope(variable.path.replace("/", "_") + "_momentum"):
            pass  # what Keras 3 optimizers do for each slot; raises on an invalid name


def test_dropout_only_in_training_and_parity_with_savedmodel(keras3, tiny_export):
    from bert_tf.keras3 import EncoderLayer

    encoder = EncoderLayer(os.path.join(tiny_export, "encoder"))
    packed = _packed(tiny_export)
    train_a = encoder(packed, training=True)["sequence_output"].numpy()
    train_b = encoder(packed, training=True)["sequence_output"].numpy()
    assert np.abs(train_a - train_b).max() > 1e-3  # the export's dropout runs
    no_dropout = EncoderLayer(os.path.join(tiny_export, "encoder"), dropout=False)
    np.testing.assert_array_equal(
        no_dropout(packed, training=True)["sequence_output"],
        no_dropout(packed, training=False)["sequence_output"],
    )
    first, second = encoder(packed, training=False), encoder(packed)
    restored = tf.saved_model.load(os.path.join(tiny_export, "encoder"))
    reference = restored(packed, training=False)
    assert set(first) == set(interface.OUTPUTS)
    assert isinstance(first[interface.ENCODER_OUTPUTS], list)
    for outputs in (first, second):
        found, expected = interface.flat_outputs(outputs), interface.flat_outputs(reference)
        assert set(found) == set(expected)
        for key in expected:
            np.testing.assert_allclose(found[key], expected[key], atol=1e-5, rtol=0, err_msg=key)


def test_assignment_through_the_keras_variable_reaches_the_restored_functions(keras3, tiny_export):
    from bert_tf.keras3 import EncoderLayer

    encoder = EncoderLayer(os.path.join(tiny_export, "encoder"))
    packed = _packed(tiny_export)
    before = encoder(packed)["pooled_output"].numpy()
    pooler = next(v for v in encoder.encoder_variables if "pooler" in v.path and "kernel" in v.path)
    pooler.assign(np.zeros(pooler.shape, np.float32))
    restored_pooler = next(
        v for v in encoder.restored.variables if v.name.startswith("pooler") and "kernel" in v.name
    )
    assert not np.any(restored_pooler.numpy())
    after = encoder(packed)["pooled_output"].numpy()
    # A zero pooler kernel leaves tanh(bias): the same row for every text.
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, np.broadcast_to(after[:1], after.shape), atol=1e-6)


def test_keras_file_round_trip_and_export_serves_strings(keras3, tiny_export, tmp_path):
    keras = keras3
    model, _ = build_snippet(tiny_export, num_classes=2)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(_dataset(n=32), epochs=1, verbose=0)
    premises, hypotheses, _ = pair_task(6, seed=9)
    batch = [tf.constant(list(premises)), tf.constant(list(hypotheses))]
    expected = model(batch, training=False).numpy()

    path = os.fspath(tmp_path / "nli.keras")
    model.save(path)
    loaded = keras.models.load_model(path)  # registered: no custom_objects
    np.testing.assert_allclose(loaded(batch, training=False).numpy(), expected, atol=1e-6)
    untrained, _ = build_snippet(tiny_export, num_classes=2)
    assert np.abs(untrained(batch, training=False).numpy() - expected).max() > 1e-4

    model.export(os.fspath(tmp_path / "serving"), verbose=False)
    served = tf.saved_model.load(os.fspath(tmp_path / "serving"))
    np.testing.assert_allclose(served.serve(batch).numpy(), expected, atol=1e-5)


def test_mlm_endpoint(keras3, tiny_export):
    from bert_tf.keras3 import EncoderLayer

    mlm = EncoderLayer(os.path.join(tiny_export, "encoder"), endpoint="mlm")
    packed = dict(_packed(tiny_export))
    positions = tf.constant([[1, 2], [1, 3], [0, 1]], tf.int32)
    outputs = mlm({**packed, interface.MLM_POSITIONS: positions}, training=False)
    restored = tf.saved_model.load(os.path.join(tiny_export, "encoder")).mlm
    reference = restored({**packed, interface.MLM_POSITIONS: positions}, training=False)
    assert outputs[interface.MLM_LOGITS].shape == (3, 2, 116)
    np.testing.assert_allclose(
        outputs[interface.MLM_LOGITS], reference[interface.MLM_LOGITS], atol=1e-5
    )
    # The head's own weights train with the encoder's.
    assert len(mlm.trainable_weights) == len(restored.trainable_variables)
    assert any("mlm" in v.path for v in mlm.trainable_weights)


def test_mixed_bfloat16_policy(keras3, tiny_export):
    keras = keras3
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model, encoder = build_snippet(tiny_export, num_classes=2)
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        history = model.fit(_dataset(n=32), epochs=1, verbose=0)
        head = model.layers[-1]
        assert head.compute_dtype == "bfloat16"
        assert encoder.compute_dtype == "float32"  # the export's computation
        assert np.isfinite(history.history["loss"]).all()
    finally:
        keras.config.set_dtype_policy(previous)


def test_preprocess_layer_ids_match_the_savedmodel(keras3, tiny_export):
    import tensorflow_text  # noqa: F401

    from bert_tf.keras3 import PreprocessLayer

    texts = ["the cat sat on the mat", "", "Hello, WORLD! " * 20, "naïve café 猫 dog"]
    other = ["a dog", "no", "", "yes yes"]
    third = ["red", "blue", "green", ""]
    restored = tf.saved_model.load(os.path.join(tiny_export, "preprocess"))
    layer = PreprocessLayer(os.path.join(tiny_export, "preprocess"), seq_length=SEQ_LENGTH)
    for segments in ([texts], [texts, other], [texts, other, third]):
        found = layer([tf.constant(s) for s in segments])
        expected = restored.bert_pack_inputs(
            [restored.tokenize(tf.constant(s)) for s in segments], seq_length=SEQ_LENGTH
        )
        for key in interface.ENCODER_INPUTS:
            np.testing.assert_array_equal(found[key], expected[key], err_msg=key)
    default = PreprocessLayer(os.path.join(tiny_export, "preprocess"))
    single = default(tf.constant(texts))
    for key, value in restored(tf.constant(texts)).items():
        np.testing.assert_array_equal(single[key], value, err_msg=key)
    assert single[interface.INPUT_WORD_IDS].shape == (4, 32)  # the export's default
    tokens = layer.tokenize(texts)
    assert tokens.to_list() == restored.tokenize(tf.constant(texts)).to_list()
    special = layer.get_special_tokens_dict()
    assert set(special) == set(interface.SPECIAL_TOKEN_KEYS)
    assert special["vocab_size"] == 116 and all(isinstance(v, int) for v in special.values())


def test_layers_serialize_their_settings(keras3, tiny_export):
    keras = keras3
    from bert_tf.keras3 import EncoderLayer, PreprocessLayer

    preprocess = PreprocessLayer(os.path.join(tiny_export, "preprocess"), seq_length=16)
    encoder = EncoderLayer(os.path.join(tiny_export, "encoder"), trainable=False, endpoint="mlm")
    for layer in (preprocess, encoder):
        clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    assert preprocess.get_config()["seq_length"] == 16
    assert encoder.get_config()["endpoint"] == "mlm" and not encoder.get_config()["trainable"]
