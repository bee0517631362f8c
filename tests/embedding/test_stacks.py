"""embedding/, bert_tf.embed and bert-tf-embed vs SentenceTransformer.encode, stack by stack.

The models are sentence-transformers 6 saves of the real MiniLM weights with
other stacks (see conftest.py): CLS + Normalize at max_seq_length 32; mean
(prompt excluded) + Dense 384->256 tanh + Normalize with prompts; max,
weighted mean, last token and mean/sqrt(len) concatenated, unnormalized, with a
default prompt that the pooling includes.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tf-text ops)
from st_variants import TEXTS, VARIANTS

import bert_tf
from bert_tf import interface
from bert_tf.errors import BertTfError

pytestmark = pytest.mark.slow


def assert_matches(ours: np.ndarray, reference: np.ndarray, normalized: bool) -> None:
    """<= 1e-5 max abs diff on normalized vectors, <= 1e-4 relative to their scale otherwise."""
    assert ours.dtype == np.float32 and ours.shape == reference.shape
    diff = float(np.max(np.abs(ours - reference)))
    if normalized:
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert diff <= 1e-5, diff
    else:
        assert diff <= 1e-4 * float(np.max(np.abs(reference))), diff


def _prompt_names(variant) -> list:
    return [None, *variant.model.prompts] if variant.model.prompts else [None]


def _reference(variant, prompt_name):
    return variant.model.encode(TEXTS, prompt_name=prompt_name, convert_to_numpy=True)


@pytest.mark.parametrize("name", VARIANTS)
def test_embedding_saved_model_and_embed_equal_sentence_transformers(variants, name):
    variant = variants(name)
    model = tf.saved_model.load(os.fspath(variant.export_dir / interface.EMBEDDING_DIR))
    for prompt_name in _prompt_names(variant):
        reference = _reference(variant, prompt_name)
        saved = model(tf.constant(TEXTS), prompt_name=prompt_name).numpy()
        assert_matches(saved, reference, variant.normalized)
        ours = bert_tf.embed(TEXTS, variant.export_dir, prompt_name=prompt_name, batch_size=4)
        assert_matches(ours, reference, variant.normalized)


def test_the_stack_is_read_from_the_sentence_transformers_files(variants):
    variant = variants("mean_dense_tanh_prompts")
    metadata = interface.read_metadata(variant.export_dir)
    stack = metadata.embedding
    assert stack["modes"] == ["mean"] and stack["include_prompt"] is False
    assert [(d["in_features"], d["out_features"], d["activation"]) for d in stack["dense"]] == [
        (384, 256, "tanh")
    ]
    assert stack["normalize"] is True and stack["max_seq_length"] == 128
    assert stack["prompts"]["query"] == "query: "
    card = (variant.export_dir / "README.md").read_text()
    assert "| pooling | mean (prompt tokens excluded) |" in card
    assert "| Dense 1 | 384 -> 256, activation tanh, bias True |" in card
    assert "`query`: `'query: '`" in card
    # sentence-transformers 6 saved no vocab.txt: the vocab came from tokenizer.json.
    assert not (variant.checkpoint / "vocab.txt").exists()
    assert metadata.source.vocab_file.endswith("vocab.txt")
    assert "tokenizer.json" in metadata.tokenizer.source
    assert metadata.verification.max_abs_diff["embedding"] <= 1e-5


def test_prompt_signatures_and_truncation(variants):
    variant = variants("mean_dense_tanh_prompts")
    model = tf.saved_model.load(os.fspath(variant.export_dir / interface.EMBEDDING_DIR))
    query = model.signatures["prompt_query"](text=tf.constant(TEXTS))["embedding"].numpy()
    assert_matches(query, _reference(variant, "query"), True)
    short = variants("cls_normalize_32")
    packed = tf.saved_model.load(os.fspath(short.export_dir / "embedding")).pack(tf.constant(TEXTS))
    assert packed["input_word_ids"].shape[1] == 32  # the long text was cut at 32 tokens


def test_keras3_tfsm_layer_and_hub_keras_layer(variants):
    import keras
    import tensorflow_hub as hub
    import tf_keras

    variant = variants("mean_dense_tanh_prompts")
    path = os.fspath(variant.export_dir / interface.EMBEDDING_DIR)
    reference = _reference(variant, None)
    layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
    out = layer(tf.constant(TEXTS))
    assert_matches(np.asarray(out["embedding"]), reference, True)
    text = tf_keras.layers.Input(shape=(), dtype=tf.string)
    model = tf_keras.Model(text, hub.KerasLayer(path)(text))
    assert_matches(model(tf.constant(TEXTS)).numpy(), reference, True)


def test_re_export_keeps_the_dense_weights(variants, tmp_path):
    import safetensors.numpy

    variant = variants("mean_dense_tanh_prompts")
    loaded = tf.saved_model.load(os.fspath(variant.export_dir / interface.EMBEDDING_DIR))
    again = tmp_path / "embedding"
    tf.saved_model.save(loaded, os.fspath(again), signatures=dict(loaded.signatures))
    reloaded = tf.saved_model.load(os.fspath(again))
    np.testing.assert_array_equal(
        reloaded(tf.constant(TEXTS)).numpy(), loaded(tf.constant(TEXTS)).numpy()
    )
    weights = safetensors.numpy.load_file(variant.checkpoint / "2_Dense" / "model.safetensors")
    np.testing.assert_array_equal(reloaded.head.dense[0].kernel.numpy(), weights["linear.weight"].T)
    np.testing.assert_array_equal(reloaded.head.dense[0].bias.numpy(), weights["linear.bias"])


def test_overrides_are_logged_and_applied(variants):
    variant = variants("mean_dense_tanh_prompts")
    cls = bert_tf.embed(TEXTS[:3], variant.export_dir, pooling="cls", normalize=False)
    assert cls.shape == (3, 384)  # the Dense layer was dropped with the pooling override
    assert np.all(np.abs(np.linalg.norm(cls, axis=1) - 1) > 0.05)
    with pytest.raises(BertTfError, match=r"prompt_name: expected one of the export's prompts"):
        bert_tf.embed(["a"], variant.export_dir, prompt_name="nope")


def test_cli_uses_the_export_stack(variants, tmp_path):
    variant = variants("mean_dense_tanh_prompts")
    source = tmp_path / "in.txt"
    source.write_text("\n".join(t.replace("\n", " ") for t in TEXTS) + "\n", encoding="utf-8")
    output = tmp_path / "out.npy"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bert_tf.cli.embed",
            f"--export_dir={variant.export_dir}",
            f"--input={source}",
            f"--output={output}",
            "--prompt_name=passage",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert_matches(np.load(output), _reference(variant, "passage"), True)


# --- Errors: one line, nothing written -----------------------------------------------


def _copy(minilm_dir: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    folder = tmp_path / "model"
    shutil.copytree(minilm_dir, folder)
    return folder


@pytest.mark.parametrize(
    "module, message",
    [
        (
            {"idx": 2, "name": "2", "path": "2_CNN", "type": "sentence_transformers.models.CNN"},
            r"module 2 \(sentence_transformers\.models\.CNN\): not supported",
        ),
        (
            {"idx": 2, "name": "2", "path": "2_X", "type": "my_package.CustomPooling"},
            r"module 2 \(my_package\.CustomPooling\): not supported",
        ),
    ],
)
def test_an_unknown_module_is_a_one_line_error_and_nothing_is_written(
    minilm_dir, tmp_path, module, message
):
    from bert_tf.export import export_pair

    folder = _copy(minilm_dir, tmp_path)
    modules = json.loads((folder / "modules.json").read_text())
    (folder / "modules.json").write_text(json.dumps([*modules[:2], module, *modules[2:]]))
    with pytest.raises(BertTfError, match=message) as error:
        export_pair(str(folder), str(tmp_path / "out"))
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_tokenizer_that_is_not_wordpiece_is_a_one_line_error(minilm_dir, tmp_path):
    from bert_tf.export import export_pair

    folder = _copy(minilm_dir, tmp_path)
    (folder / "vocab.txt").unlink()
    data = json.loads((folder / "tokenizer.json").read_text())
    data["model"] = {"type": "BPE", "vocab": {}, "merges": []}
    (folder / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(BertTfError, match=re.escape("model.type: expected a WordPiece")):
        export_pair(str(folder), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_a_plain_checkpoint_gets_embedding_only_when_asked(tmp_path):
    import checkpoint_factory

    from bert_tf.export import export_pair

    config = checkpoint_factory.tiny_config()
    written = checkpoint_factory.write_hf_checkpoint(tmp_path / "hf", config, seed=4)
    plain = export_pair(
        os.fspath(written.folder),
        os.fspath(tmp_path / "plain"),
        default_seq_length=32,
        serving_jit_compile=False,
    )
    assert not (plain.output_dir / "embedding").exists() and plain.metadata.embedding is None
    asked = export_pair(
        os.fspath(written.folder),
        os.fspath(tmp_path / "asked"),
        embedding_pooling="cls",
        embedding_normalize=True,
        default_seq_length=32,
        serving_jit_compile=False,
    )
    card = (asked.output_dir / "README.md").read_text()
    assert "| stack from | --embedding_pooling=cls --embedding_normalize (asked" in card
    assert "| pooling | cls |" in card
    model = tf.saved_model.load(os.fspath(asked.output_dir / "embedding"))
    texts = ["hello world", "", "the quick brown fox " * 30]  # the last one is cut at 32
    saved = model(tf.constant(texts)).numpy()
    # The plain export with the same stack asked of bert_tf.embed gives the same vectors,
    # and the asked export's own default is that stack.
    expected = bert_tf.embed(texts, plain.output_dir, pooling="cls", normalize=True)
    np.testing.assert_allclose(saved, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(bert_tf.embed(texts, asked.output_dir), expected, atol=1e-5)
    with pytest.raises(BertTfError, match="--embedding_normalize: the checkpoint has no"):
        export_pair(
            os.fspath(written.folder),
            os.fspath(tmp_path / "x"),
            embedding_normalize=True,
            default_seq_length=32,
            serving_jit_compile=False,
        )
    assert not (tmp_path / "x").exists()
