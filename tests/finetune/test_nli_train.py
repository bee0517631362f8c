"""Training mechanics on a tiny random export: precision policies, XLA, three segments and their export."""

import nli_synth
import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from finetune_helpers import assert_export_matches_model

from bert_tf.errors import OutputError
from bert_tf.finetune import data, model, serving, train
from bert_tf.interface import ExportDirError


def _config(**overrides):
    settings = dict(
        seq_length=48,
        batch_size=32,
        steps=6,
        learning_rate=1e-3,
        seed=11,
        checkpoint_every=1000,
        progress=False,
    )
    return train.TrainConfig(**{**settings, **overrides})


@pytest.mark.parametrize("mixed_precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_runs(tiny_export_dir, nli_files, tmp_path, mixed_precision):
    """Each policy trains with float32 variables and outputs (test_nli_minilm.py shows bfloat16 converging)."""
    train_data = data.read_nli(nli_files[0])
    config = _config(mixed_precision=mixed_precision)
    result = train.train(tiny_export_dir, train_data, tmp_path, config)
    assert tf_keras.mixed_precision.global_policy().name == "float32"  # restored after the run
    logits_layer = result.classifier.get_layer("logits")
    assert logits_layer.compute_dtype == mixed_precision.split("_")[1]
    assert logits_layer.kernel.dtype == tf.float32  # variables stay float32
    packed = result.packer({"premise": tf.constant(["a"]), "hypothesis": tf.constant(["b"])})
    assert result.classifier(packed)["probabilities"].dtype == tf.float32
    assert len(result.losses) == 6 and np.all(np.isfinite(result.losses))
    encoder = result.classifier.get_layer("encoder")
    fresh = model.build_classifier(str(tiny_export_dir / "encoder"), 3).get_layer("encoder")
    changed = [
        not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(encoder.variables, fresh.variables)
    ]
    assert len(changed) == len(fresh.variables) > 10 and all(changed)


@pytest.mark.slow
def test_xla_follows_the_same_loss_curve(tiny_export_dir, nli_files, tmp_path):
    """--jit_compile computes the same steps as graph mode (dropout off: XLA draws its own random bits)."""
    train_data = data.read_nli(nli_files[0])
    losses = {}
    for jit_compile in (False, True):
        config = _config(steps=4, jit_compile=jit_compile, dropout_rate=0.0, encoder_dropout=False)
        losses[jit_compile] = train.train(
            tiny_export_dir, train_data, tmp_path / str(jit_compile), config
        ).losses
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4, atol=1e-5)
    assert len(set(losses[True])) == 4  # the weights change between steps


def test_three_segments_take_the_same_path(tiny_export_dir, tmp_path):
    """premise + hypothesis + context: packed with type ids 0, 1, 2, trained, exported with three inputs."""
    rows = [
        (p, h, f"Context {i % 7}.", label)
        for i, (p, h, label) in enumerate(nli_synth.generate(96, seed=4))
    ]
    path = tmp_path / "three.tsv"
    path.write_text(
        "".join(f"{p}\t{h}\t{c}\t{nli_synth.LABELS[label]}\n" for p, h, c, label in rows)
    )
    three = data.read_nli(path)
    assert three.num_segments == 3
    names = ("premise", "hypothesis", "context")
    config = _config(steps=3, segment_names=names)
    result = train.train(tiny_export_dir, three, tmp_path / "run", config, eval_data=three)
    packed = result.packer({n: tf.constant([rows[0][i]]) for i, n in enumerate(names)})
    assert sorted(
        set(packed["input_type_ids"].numpy()[0, packed["input_mask"].numpy()[0] == 1])
    ) == [0, 1, 2]
    exported = serving.export_classifier(
        result.packer,
        result.classifier,
        config.labels,
        tmp_path / "classifier",
        segment_names=names,
    )
    assert_export_matches_model(result, three, exported, config.labels)
    with pytest.raises(OutputError, match="already exists"):
        serving.export_classifier(
            result.packer, result.classifier, config.labels, exported, segment_names=names
        )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left
    with pytest.raises(
        train.TrainingError,
        match=r"three.tsv: training examples have 3 segments, the run expects 2",
    ):
        train.train(tiny_export_dir, three, tmp_path / "other", _config(steps=3))


def test_bad_settings_are_one_line_errors(tiny_export_dir, nli_files, tmp_path):
    train_data = data.read_nli(nli_files[0])
    cases = [
        (dict(epochs=1, steps=5), r"epochs/steps: expected exactly one of them"),
        (
            dict(mixed_precision="float8"),
            r"mixed_precision: expected one of none, mixed_float16, mixed_bfloat16",
        ),
        (dict(batch_size=0), r"batch_size: expected a positive integer, found 0"),
    ]
    for overrides, message in cases:
        with pytest.raises(train.TrainingError, match=message):
            _config(**overrides)
    with pytest.raises(train.TrainingError, match=r"480 examples are fewer than one batch of 512"):
        train.train(tiny_export_dir, train_data, tmp_path, _config(batch_size=512))
    with pytest.raises(ExportDirError, match=r"not a bert-tf export: no encoder/saved_model.pb"):
        train.train(tmp_path, train_data, tmp_path / "out", _config())
