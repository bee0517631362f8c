"""The issue's snippet, as written, on the real all-MiniLM-L6-v2 export (Keras 3 fit)."""

import numpy as np
import pytest
import tensorflow as tf
from keras3_helpers import pair_task


@pytest.mark.slow
def test_snippet_as_written_on_minilm(keras3, minilm_export_dir, tmp_path):
    import keras

    from bert_tf.keras3 import EncoderLayer, PreprocessLayer

    name = minilm_export_dir
    # --- the snippet (paths and the loss filled in) ---
    preprocess = PreprocessLayer(f"{name}/preprocess", seq_length=64)
    encoder = EncoderLayer(f"{name}/encoder", trainable=True)
    premise = keras.Input(shape=(), dtype="string")
    hypothesis = keras.Input(shape=(), dtype="string")
    packed = preprocess([premise, hypothesis])
    outputs = encoder(packed)
    logits = keras.layers.Dense(3)(outputs["pooled_output"])
    model = keras.Model([premise, hypothesis], logits)
    model.compile(
        optimizer=keras.optimizers.AdamW(2e-5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    premises, hypotheses, labels = pair_task(32, seed=1)
    dataset = tf.data.Dataset.from_tensor_slices(((premises, hypotheses), labels)).batch(8)
    before = [v.numpy().copy() for v in encoder.restored.variables]
    history = model.fit(dataset, epochs=1, verbose=0)
    # --- checks ---
    after = [v.numpy() for v in encoder.restored.variables]
    changed = sum(not np.array_equal(b, a) for b, a in zip(before, after))
    assert changed >= 0.95 * len(before), (changed, len(before))
    assert np.isfinite(history.history["loss"]).all()
    assert outputs["pooled_output"].shape == (None, 384)
    assert len(outputs["encoder_outputs"]) == 6

    batch = [tf.constant(list(premises[:4])), tf.constant(list(hypotheses[:4]))]
    expected = model(batch, training=False).numpy()
    model.save(tmp_path / "nli.keras")
    loaded = keras.models.load_model(tmp_path / "nli.keras")
    np.testing.assert_allclose(loaded(batch, training=False).numpy(), expected, atol=1e-5)
    model.export(tmp_path / "serving", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "serving"))
    np.testing.assert_allclose(served.serve(batch).numpy(), expected, atol=1e-5)
