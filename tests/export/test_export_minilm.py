"""The real all-MiniLM-L6-v2 export (the shared `minilm_export_dir`): how users load it."""

from __future__ import annotations

import os
import warnings

import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the ops preprocess/ uses)
import tf_keras
from export_helpers import assert_close, run_cli, run_script

import bert_tf.cli.inspect_export as inspect_cli
from bert_tf import interface
from bert_tf.export import demo

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import tensorflow_hub as hub

pytestmark = pytest.mark.slow

SENTENCES = [
    "A man is playing a guitar.",
    "Crème brûlée is a dessert!",
    "How do I reset my password?",
]


def test_layout_and_verification_figures(minilm_export_dir):
    # A sentence-transformers checkpoint: embedding/ too (its modules.json's stack).
    assert sorted(p.name for p in minilm_export_dir.iterdir()) == [
        "README.md",
        "embedding",
        "encoder",
        "preprocess",
    ]
    meta = interface.read_metadata(minilm_export_dir)
    assert meta.source.preset == "all-MiniLM-L6-v2"
    assert meta.config["num_layers"] == 6 and meta.config["hidden_size"] == 384
    assert meta.special_tokens == {
        "vocab_size": 30522,
        "start_of_sequence_id": 101,
        "end_of_segment_id": 102,
        "padding_id": 0,
        "mask_id": 103,
    }
    diffs = meta.verification.max_abs_diff
    assert set(diffs) == {
        "__call__",
        "serving_default",
        "tokens",
        "embedding",
        "embedding/serving_default",
    }
    assert meta.embedding["modes"] == ["mean"] and meta.embedding["normalize"] is True
    assert max(diffs.values()) < 1e-3


def test_interface_nli_snippet_unchanged(minilm_export_dir):
    """The docs/interface.md usage code, verbatim but for the paths."""
    PREPROCESS_DIR = os.fspath(minilm_export_dir / "preprocess")  # noqa: N806
    ENCODER_DIR = os.fspath(minilm_export_dir / "encoder")  # noqa: N806
    preprocessor = hub.load(PREPROCESS_DIR)
    tokenize = hub.KerasLayer(preprocessor.tokenize)
    bert_pack_inputs = hub.KerasLayer(preprocessor.bert_pack_inputs, arguments=dict(seq_length=64))
    encoder = hub.KerasLayer(ENCODER_DIR, trainable=True)
    premise = tf_keras.layers.Input(shape=(), dtype=tf.string)
    hypothesis = tf_keras.layers.Input(shape=(), dtype=tf.string)
    packed = bert_pack_inputs([tokenize(premise), tokenize(hypothesis)])
    pooled = encoder(packed)["pooled_output"]

    model = tf_keras.Model([premise, hypothesis], pooled)
    out = model([tf.constant(SENTENCES[:2]), tf.constant(SENTENCES[1:])])
    assert out.shape == (2, 384)
    assert len(encoder.trainable_variables) == len(hub.load(ENCODER_DIR).trainable_variables)
    assert encoder.trainable_variables and encoder.losses == []


def test_sentence_embeddings_match_sentence_transformers(minilm_export_dir, minilm_dir):
    """Tokenizer + encoder + export end to end against the reference library."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(os.fspath(minilm_dir), device="cpu").encode(
        SENTENCES, normalize_embeddings=True
    )
    found = demo.embedding_model(os.fspath(minilm_export_dir))(tf.constant(SENTENCES))
    assert_close(found, reference, atol=1e-4, what="mean-pooled embedding")


def test_keras3_tfsmlayer_loads_both(minilm_export_dir):
    import keras

    preprocess = keras.layers.TFSMLayer(
        os.fspath(minilm_export_dir / "preprocess"), call_endpoint="serving_default"
    )
    encoder = keras.layers.TFSMLayer(
        os.fspath(minilm_export_dir / "encoder"), call_endpoint="serving_default"
    )
    inputs = preprocess(tf.constant(SENTENCES))
    assert inputs["input_word_ids"].shape == (3, 128)
    outputs = encoder({k: inputs[k] for k in ("input_word_ids", "input_mask", "input_type_ids")})
    assert set(outputs) == {
        "pooled_output",
        "sequence_output",
        "default",
        *(f"encoder_outputs_{i}" for i in range(6)),
    }
    loaded = tf.saved_model.load(os.fspath(minilm_export_dir / "encoder"))
    expected = loaded(dict(inputs), training=False)
    assert_close(outputs["sequence_output"], expected["sequence_output"], atol=1e-4)
    assert_close(outputs["encoder_outputs_5"], expected["sequence_output"], atol=1e-4)
    assert len(encoder.weights) == len(loaded.variables)


def test_tokens_signature_and_xla(minilm_export_dir):
    encoder = tf.saved_model.load(os.fspath(minilm_export_dir / "encoder"))
    preprocess = tf.saved_model.load(os.fspath(minilm_export_dir / "preprocess"))
    inputs = preprocess(tf.constant(SENTENCES))
    expected = encoder(inputs, training=False)
    legacy = encoder.signatures["tokens"](
        input_ids=inputs["input_word_ids"],
        input_mask=inputs["input_mask"],
        segment_ids=inputs["input_type_ids"],
    )
    assert set(legacy) == {"pooled_output", "sequence_output"}
    assert_close(legacy["pooled_output"], expected["pooled_output"], atol=1e-4)
    assert_close(legacy["sequence_output"], expected["sequence_output"], atol=1e-4)
    xla = tf.function(lambda x: encoder(x, training=False), jit_compile=True)(inputs)
    assert_close(xla["sequence_output"], expected["sequence_output"], atol=1e-4)


def test_inspect_cli(minilm_export_dir, capsys):
    assert run_cli(inspect_cli, os.fspath(minilm_export_dir)) == 0
    out = capsys.readouterr().out
    for text in (
        "signature 'serving_default'",
        "signature 'tokens'",
        "in   segment_ids: int32",
        "out  encoder_outputs_5: float32 [?, ?, 384]",
        "vocab_size=30522",
        "mask_id=103",
        "do_lower_case=True",
        "serving_default: ",
        "num_layers=6",
        "callables: tokenize, tokenize_with_offsets, bert_pack_inputs",
        "embedding/: mean pooling + Normalize, max_seq_length 256, prompts: none",
    ):
        assert text in out, text


def test_demo_main_job(minilm_export_dir):
    """What `make demo` runs after the export: a similarity table through hub.KerasLayer."""
    result = run_script("bert-tf-demo", f"--export_dir={minilm_export_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == len(demo.PAIRS)
    scores = [float(row.rsplit("|", 2)[1]) for row in rows]
    # Paraphrases score far above unrelated pairs.
    assert min(scores[:2]) > 0.5 > 0.2 > max(scores[2:])
