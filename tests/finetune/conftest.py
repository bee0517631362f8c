"""Fixtures of the fine-tuning tests: generated NLI files, a tiny random export, CLI runs."""

import os
import pathlib
import subprocess
import sys

import nli_synth
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def nli_files(tmp_path_factory):
    """Generated train (480) / eval (120) sets as plain TSV: `(train_path, eval_path)`."""
    folder = tmp_path_factory.mktemp("nli")
    train = nli_synth.write_tsv(folder / "train.tsv", nli_synth.generate(480, seed=0))
    evaluation = nli_synth.write_tsv(folder / "eval.tsv", nli_synth.generate(120, seed=1))
    return train, evaluation


@pytest.fixture(scope="session")
def tiny_export_dir(tmp_path_factory) -> pathlib.Path:
    """A tiny random BERT (3 token types, for three-segment inputs) exported by `export_pair`."""
    import checkpoint_factory  # tests/, on sys.path through tests/conftest.py

    from bert_tf.export import pair

    folder = tmp_path_factory.mktemp("tiny_bert")
    written = checkpoint_factory.write_hf_checkpoint(
        folder / "checkpoint", checkpoint_factory.tiny_config(type_vocab_size=3), seed=3
    )
    out = folder / "export"
    pair.export_pair(str(written.folder), str(out), default_seq_length=64)
    return out


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bert_tf.cli.finetune", "--noprogress", *args]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs `python -m finetune ARGS` from the repo root; returns the finished process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        cli_command(*args), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def checkpoint_values(prefix) -> dict[str, np.ndarray]:
    """Every saved value of a tf.train checkpoint (model, optimizer, RNG state)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if name.endswith("VARIABLE_VALUE") and not name.startswith("save_counter")
    }


def assert_export_matches_model(result, eval_data, export_path, labels):
    """The exported SavedModel gives the in-memory classifier's probabilities and labels on `eval_data`."""
    import tensorflow as tf

    from bert_tf.finetune import model

    names = result.config.segment_names
    columns = {
        name: tf.constant([e.segments[i] for e in eval_data.examples])
        for i, name in enumerate(names)
    }
    in_memory = model.build_text_classifier(result.packer, result.classifier)
    expected = in_memory(columns)["probabilities"].numpy()

    serve = tf.saved_model.load(str(export_path)).signatures["serving_default"]
    assert set(serve.structured_input_signature[1]) == set(names)
    assert set(serve.structured_outputs) == {"probabilities", "label"}
    outputs = serve(**columns)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-5)
    predicted = [labels[i] for i in expected.argmax(axis=-1)]
    assert [s.decode() for s in outputs["label"].numpy()] == predicted
    return expected
