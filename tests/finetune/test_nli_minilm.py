"""Fine-tuning the real all-MiniLM-L6-v2 export on the generated NLI set (CPU, 120-150 steps)."""

import numpy as np
import pytest
import tensorflow as tf
from finetune_helpers import assert_export_matches_model

from bert_tf.finetune import data, model, serving, train

pytestmark = pytest.mark.slow

# Chance is 1/3 on the balanced eval set; a trained model must be far above it.
MIN_ACCURACY = 0.7
MIN_ACCURACY_SHORT = 0.6


def _finetune(export_dir, nli_files, output_dir, steps, **overrides):
    config = train.TrainConfig(
        seq_length=40,
        batch_size=16,
        steps=steps,
        learning_rate=1e-4,
        warmup_fraction=0.1,
        seed=0,
        checkpoint_every=1000,
        progress=False,
        **overrides,
    )
    train_data, eval_data = data.read_nli(nli_files[0]), data.read_nli(nli_files[1])
    return train.train(export_dir, train_data, output_dir, config, eval_data=eval_data), eval_data


def test_minilm_learns_nli_and_exports(minilm_export_dir, nli_files, tmp_path):
    result, eval_data = _finetune(minilm_export_dir, nli_files, tmp_path / "run", steps=150)
    accuracies = [e["accuracy"] for e in result.evaluations]
    print(f"MiniLM eval accuracy by epoch (float32): {accuracies}")
    assert accuracies[-1] >= MIN_ACCURACY, accuracies
    assert accuracies[-1] > accuracies[0]
    assert np.mean(result.losses[-30:]) < np.mean(result.losses[:30]) - 0.2

    # Every encoder weight moved away from the exported one.
    fresh = (
        model.build_classifier(str(minilm_export_dir / "encoder"), 3).get_layer("encoder").variables
    )
    tuned = result.classifier.get_layer("encoder").variables
    assert len(tuned) == len(fresh) > 90
    unchanged = [a.name for a, b in zip(tuned, fresh) if np.array_equal(a.numpy(), b.numpy())]
    assert not unchanged, unchanged[:5]

    path = serving.export_classifier(
        result.packer, result.classifier, result.config.labels, tmp_path / "classifier"
    )
    probabilities = assert_export_matches_model(result, eval_data, path, result.config.labels)
    labels = np.array([e.label for e in eval_data.examples])
    assert np.isclose((probabilities.argmax(-1) == labels).mean(), accuracies[-1])


def test_minilm_bfloat16_converges(minilm_export_dir, nli_files, tmp_path):
    # Shorter: four epochs are enough to show it learns under the bfloat16 policy.
    result, _ = _finetune(
        minilm_export_dir, nli_files, tmp_path, steps=120, mixed_precision="mixed_bfloat16"
    )
    accuracies = [e["accuracy"] for e in result.evaluations]
    print(f"MiniLM eval accuracy by epoch (mixed_bfloat16): {accuracies}")
    assert result.classifier.get_layer("logits").compute_dtype == "bfloat16"
    assert accuracies[-1] >= MIN_ACCURACY_SHORT, accuracies


def test_minilm_learns_nli_in_keras3_and_exports(minilm_export_dir, nli_files, tmp_path):
    """`--keras=3`: the classifier on `bert_tf.keras3.EncoderLayer`, the same loop and outputs."""
    import keras

    result, eval_data = _finetune(
        minilm_export_dir, nli_files, tmp_path / "run", steps=120, keras=3
    )
    assert isinstance(result.classifier, keras.Model)
    accuracies = [e["accuracy"] for e in result.evaluations]
    print(f"MiniLM eval accuracy by epoch (Keras 3): {accuracies}")
    assert accuracies[-1] >= MIN_ACCURACY_SHORT, accuracies
    assert np.mean(result.losses[-30:]) < np.mean(result.losses[:30]) - 0.2

    # AdamW (with slots) updated every encoder weight in place: the restored
    # SavedModel's own variables, which the EncoderLayer wraps.
    encoder = result.classifier.get_layer("encoder")
    fresh = tf.saved_model.load(str(minilm_export_dir / "encoder")).trainable_variables
    tuned = encoder.trainable_variables
    assert len(tuned) == len(fresh) > 90
    unchanged = [a.name for a, b in zip(tuned, fresh) if np.array_equal(a.numpy(), b.numpy())]
    assert not unchanged, unchanged[:5]

    path = serving.export_classifier(
        result.packer, result.classifier, result.config.labels, tmp_path / "classifier"
    )
    probabilities = assert_export_matches_model(result, eval_data, path, result.config.labels)
    labels = np.array([e.label for e in eval_data.examples])
    assert np.isclose((probabilities.argmax(-1) == labels).mean(), accuracies[-1])
