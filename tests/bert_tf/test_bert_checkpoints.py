"""Checkpoint files, formats, the load report, and every loading error."""

import json
import pathlib
import shutil
import subprocess
import sys

import checkpoint_factory as factory
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from bert_tf import (
    BertConfig,
    CheckpointError,
    build_encoder,
    build_mlm_model,
    find_checkpoint,
    load_checkpoint,
)
from bert_tf.checkpoints import read_variables


def tiny_encoder(**overrides):
    values = dict(
        vocab_size=len(factory.BASE_VOCAB),
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    config = BertConfig.from_dict({**values, **overrides})
    return build_encoder(config), config


def weights_of(model):
    return [w.numpy().copy() for w in model.weights]


# --- finding files ---------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["folder", "prefix", "index", "data"])
def test_find_google_checkpoint(google_checkpoint, spelling):
    folder = google_checkpoint.folder
    path = {
        "folder": folder,
        "prefix": folder / "bert_model.ckpt",
        "index": folder / "bert_model.ckpt.index",
        "data": folder / "bert_model.ckpt.data-00000-of-00001",
    }[spelling]
    files = find_checkpoint(path)
    assert files.format == "google"
    assert files.weights == str(folder / "bert_model.ckpt")
    assert files.config == str(folder / "bert_config.json")
    assert files.vocab == str(folder / "vocab.txt")
    assert files.tokenizer_config is None


@pytest.mark.parametrize("spelling", ["folder", "weights_file"])
def test_find_hf_checkpoint(hf_checkpoint, spelling):
    folder = hf_checkpoint.folder
    files = find_checkpoint(folder if spelling == "folder" else folder / "model.safetensors")
    assert files.format == "huggingface"
    assert files.weights == str(folder / "model.safetensors")
    assert files.config == str(folder / "config.json")
    assert files.vocab == str(folder / "vocab.txt")
    assert files.tokenizer_config == str(folder / "tokenizer_config.json")


def test_read_variables_lists_names_and_shapes(google_checkpoint, hf_checkpoint):
    google = read_variables(google_checkpoint.folder)
    assert google["bert/encoder/layer_1/attention/self/query/kernel"] == (32, 32)
    assert google["cls/seq_relationship/output_weights"] == (2, 32)
    hf = read_variables(hf_checkpoint.folder)
    assert hf["bert.encoder.layer.1.intermediate.dense.weight"] == (64, 32)


@pytest.mark.parametrize(
    "make_path, message",
    [
        (lambda tmp: tmp / "nowhere", "checkpoint not found"),
        (lambda tmp: tmp / "empty_folder", "no checkpoint in folder"),
        (lambda tmp: tmp / "notes.txt", "is not a checkpoint"),
    ],
)
def test_find_checkpoint_errors(tmp_path, make_path, message):
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match=message) as info:
        find_checkpoint(make_path(tmp_path))
    assert "\n" not in str(info.value)


def test_missing_data_file_is_named(tmp_path, google_checkpoint):
    folder = tmp_path / "index_only"
    folder.mkdir()
    shutil.copy(google_checkpoint.folder / "bert_model.ckpt.index", folder)
    with pytest.raises(CheckpointError, match=r"data file not found: .*bert_model\.ckpt\.data"):
        find_checkpoint(folder / "bert_model.ckpt")


# --- the report --------------------------------------------------------------------------


def test_heads_without_head_model_are_reported_unused(google_checkpoint):
    encoder, _ = tiny_encoder()
    report = load_checkpoint(google_checkpoint.folder, encoder)
    assert report.has_mlm_head and report.has_nsp_head
    assert report.unused == {
        "cls/predictions/output_bias": (len(factory.BASE_VOCAB),),
        "cls/predictions/transform/LayerNorm/beta": (32,),
        "cls/predictions/transform/LayerNorm/gamma": (32,),
        "cls/predictions/transform/dense/bias": (32,),
        "cls/predictions/transform/dense/kernel": (32, 32),
        "cls/seq_relationship/output_bias": (2,),
        "cls/seq_relationship/output_weights": (2, 32),
    }
    assert not report.missing
    assert len(report.matched) == 5 + 16 * 2 + 2
    assert "7 unused" in report.summary()


def test_unknown_variable_is_reported_unused(tmp_path, hf_checkpoint):
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "extra"
    shutil.copytree(hf_checkpoint.folder, folder)
    tensors = load_file(folder / "model.safetensors")
    tensors["classifier.weight"] = np.zeros([3, 32], np.float32)
    save_file(tensors, folder / "model.safetensors")
    encoder, _ = tiny_encoder()
    report = load_checkpoint(folder, encoder)
    assert report.unused["classifier.weight"] == (3, 32)
    assert "unused: classifier.weight [3, 32]" in report.summary()


def test_mlm_model_on_checkpoint_without_head(tmp_path, tiny_config_dict):
    folder, _ = factory.write_hf_checkpoint(
        tmp_path / "no_heads", tiny_config_dict, seed=7, with_heads=False
    )
    encoder, config = tiny_encoder()
    report = load_checkpoint(folder, encoder, mlm_model=build_mlm_model(encoder, config))
    assert not report.has_mlm_head
    assert set(report.missing) == {
        "mlm/transform/kernel",
        "mlm/transform/bias",
        "mlm/layer_norm/gamma",
        "mlm/layer_norm/beta",
        "mlm/output_bias",
    }


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, source, ours, expected, found",
    [
        (
            dict(hidden_size=64, num_heads=4),
            "bert/embeddings/word_embeddings",
            "embeddings/word_embeddings",
            [116, 64],
            [116, 32],
        ),
        (
            dict(intermediate_size=48),
            "bert/encoder/layer_0/intermediate/dense/kernel",
            "transformer/layer_0/intermediate/kernel",
            [32, 48],
            [32, 64],
        ),
        (
            dict(vocab_size=200),
            "bert/embeddings/word_embeddings",
            "embeddings/word_embeddings",
            [200, 32],
            [116, 32],
        ),
    ],
)
def test_config_mismatch_names_variable_and_shapes(
    google_checkpoint, overrides, source, ours, expected, found
):
    encoder, _ = tiny_encoder(**overrides)
    before = weights_of(encoder)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(google_checkpoint.folder, encoder)
    message = str(info.value)
    assert "\n" not in message
    assert repr(source) in message and repr(ours) in message
    assert f"expected shape {expected}, found {found}" in message
    assert info.value.report.mismatched
    # Nothing was assigned: the load checks everything before it writes.
    for a, b in zip(before, weights_of(encoder)):
        np.testing.assert_array_equal(a, b)


def test_hf_mismatch_names_variable_and_shapes(hf_checkpoint):
    encoder, _ = tiny_encoder(max_position_embeddings=128)
    with pytest.raises(
        CheckpointError,
        match=(
            r"'bert\.embeddings\.position_embeddings\.weight' does not fit model variable "
            r"'embeddings/position_embeddings': expected shape \[128, 32\], found \[64, 32\]"
        ),
    ):
        load_checkpoint(hf_checkpoint.folder, encoder)


def test_fewer_layers_than_checkpoint_is_an_error(google_checkpoint):
    encoder, _ = tiny_encoder(num_layers=1)
    with pytest.raises(
        CheckpointError,
        match=r"'bert/encoder/layer_1/.*' belongs to a layer "
        r"beyond the config's num_layers=1",
    ):
        load_checkpoint(google_checkpoint.folder, encoder)


def test_more_layers_than_checkpoint_is_an_error(hf_checkpoint):
    encoder, _ = tiny_encoder(num_layers=3)
    with pytest.raises(
        CheckpointError,
        match=r"no checkpoint variable for model variable "
        r"'transformer/layer_2/",
    ):
        load_checkpoint(hf_checkpoint.folder, encoder)


def copy_without(source, folder, name):
    """A copy of the HF checkpoint folder `source` whose safetensors lack variable `name`."""
    from safetensors.numpy import load_file, save_file

    shutil.copytree(source, folder)
    tensors = load_file(folder / "model.safetensors")
    del tensors[name]
    save_file(tensors, folder / "model.safetensors")
    return folder


def test_missing_encoder_variable_is_an_error(tmp_path, hf_checkpoint):
    folder = copy_without(hf_checkpoint.folder, tmp_path / "missing", "bert.pooler.dense.bias")
    encoder, _ = tiny_encoder()
    with pytest.raises(
        CheckpointError,
        match=r"no checkpoint variable for model variable "
        r"'pooler/dense/bias' \(looked for "
        r"'pooler\.dense\.bias'\)",
    ):
        load_checkpoint(folder, encoder)


def test_partial_head_is_an_error(tmp_path, hf_checkpoint):
    folder = copy_without(
        hf_checkpoint.folder, tmp_path / "partial_head", "cls.predictions.transform.dense.weight"
    )
    encoder, config = tiny_encoder()
    with pytest.raises(CheckpointError, match="the MLM head is incomplete"):
        load_checkpoint(folder, encoder, mlm_model=build_mlm_model(encoder, config))


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("kind", ["google_data", "google_index", "safetensors", "bin"])
def test_truncated_file_gives_one_line_error(tmp_path, google_checkpoint, tiny_config_dict, kind):
    if kind.startswith("google"):
        folder = tmp_path / "google"
        shutil.copytree(google_checkpoint.folder, folder)
        name = (
            "bert_model.ckpt.data-00000-of-00001"
            if kind == "google_data"
            else "bert_model.ckpt.index"
        )
    else:
        folder, _ = factory.write_hf_checkpoint(
            tmp_path / kind, tiny_config_dict, seed=8, weights_format=kind
        )
        name = "model.safetensors" if kind == "safetensors" else "pytorch_model.bin"
    truncate(folder / name)
    encoder, _ = tiny_encoder()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(folder, encoder)
    message = str(info.value)
    assert "\n" not in message
    assert "truncated or corrupt" in message
    assert str(folder) in message


def test_bin_without_torch_gives_clear_error(tmp_path, tiny_config_dict, monkeypatch):
    folder, _ = factory.write_hf_checkpoint(
        tmp_path / "bin", tiny_config_dict, seed=9, weights_format="bin"
    )
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError.
    encoder, _ = tiny_encoder()
    with pytest.raises(
        CheckpointError,
        match=r"pytorch_model\.bin is a PyTorch file and "
        r"reading it needs torch",
    ):
        load_checkpoint(folder, encoder)


def test_safetensors_needs_no_torch(hf_checkpoint, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    encoder, _ = tiny_encoder()
    report = load_checkpoint(hf_checkpoint.folder, encoder)
    assert not report.mismatched and len(report.matched) == 39


def test_bin_is_loaded_with_weights_only(tmp_path, tiny_config_dict):
    """A pickle that is not a plain state dict is refused, never executed."""
    import torch

    folder, _ = factory.write_hf_checkpoint(
        tmp_path / "evil", tiny_config_dict, seed=10, weights_format="bin"
    )
    marker = tmp_path / "pwned"
    torch.save({"bad": EvilPickle(marker)}, folder / "pytorch_model.bin")
    encoder, _ = tiny_encoder()
    with pytest.raises(CheckpointError, match="cannot read PyTorch file"):
        load_checkpoint(folder, encoder)
    assert not marker.exists()


class EvilPickle:
    """Unpickling this creates a file: code execution a full `pickle.load` would allow."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_loaded_weights_equal_the_file(google_checkpoint):
    """Spot check through a second route: a query kernel, reshaped to [hidden, heads, size]."""
    encoder, _ = tiny_encoder()
    load_checkpoint(google_checkpoint.folder, encoder)
    reader = tf.train.load_checkpoint(str(google_checkpoint.folder / "bert_model.ckpt"))
    kernel = reader.get_tensor("bert/encoder/layer_1/attention/self/query/kernel")
    np.testing.assert_array_equal(
        encoder.transformer_layers[1].query.kernel.numpy(), kernel.reshape(32, 4, 8)
    )


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_hf_weights(tmp_path, hf_checkpoint, dtype, tiny_inputs):
    """Half-precision safetensors load as the same values widened to float32."""
    import safetensors.torch
    import torch

    folder = tmp_path / dtype
    shutil.copytree(hf_checkpoint.folder, folder)
    tensors = safetensors.torch.load_file(folder / "model.safetensors")
    half = {k: v.to(getattr(torch, dtype)) for k, v in tensors.items()}
    safetensors.torch.save_file(half, folder / "model.safetensors")
    encoder, _ = tiny_encoder()
    load_checkpoint(folder, encoder)
    np.testing.assert_array_equal(
        encoder.transformer_layers[0].output_dense.kernel.numpy(),
        half["bert.encoder.layer.0.output.dense.weight"].float().numpy().T,
    )
    np.testing.assert_array_equal(
        encoder.embeddings.word_embeddings.numpy(),
        half["bert.embeddings.word_embeddings.weight"].float().numpy(),
    )


@pytest.mark.parametrize("checkpoint", ["google_checkpoint", "hf_checkpoint"])
def test_encoder_built_without_random_init_loads_the_same(request, checkpoint, tiny_inputs):
    """`build_encoder(initialize=False)` starts at zeros (LayerNorm scales at one) and,
    once loaded, equals a randomly initialized encoder loaded from the same checkpoint."""
    folder = request.getfixturevalue(checkpoint).folder
    random_init, config = tiny_encoder()
    no_init = build_encoder(config, initialize=False)
    assert not no_init.get_config()["initialize"]
    assert all(not np.any(w.numpy()) for w in no_init.weights if "gamma" not in w.name)
    assert any(np.any(w.numpy()) for w in random_init.weights if "kernel" in w.name)
    for model in (random_init, no_init):
        load_checkpoint(folder, model)
    for ours, theirs in zip(weights_of(no_init), weights_of(random_init), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(
        no_init(tiny_inputs)["sequence_output"].numpy(),
        random_init(tiny_inputs)["sequence_output"].numpy(),
    )


def test_safetensors_reader_keeps_no_file_mapped(hf_checkpoint):
    """Between reads the reader holds only names, shapes and dtypes: no open mapping."""
    from bert_tf.checkpoints import huggingface

    path = str(hf_checkpoint.folder / "model.safetensors")
    reader = huggingface.SafetensorsReader(path)
    name = "bert.embeddings.word_embeddings.weight"
    value = reader.read(name)
    assert value.shape == reader.shapes()[name]
    maps = pathlib.Path("/proc/self/maps")
    if maps.exists():
        assert path not in maps.read_text()


# --- big tensors in row blocks -----------------------------------------------------------


def _checkpoint_copy(tmp_path, source, kind):
    """The tiny HF checkpoint as `kind`: safetensors, BF16 safetensors or a .bin file."""
    import safetensors.torch
    import torch

    folder = tmp_path / kind
    shutil.copytree(source.folder, folder)
    tensors = safetensors.torch.load_file(folder / "model.safetensors")
    if kind == "bf16":
        safetensors.torch.save_file(
            {k: v.to(torch.bfloat16) for k, v in tensors.items()}, folder / "model.safetensors"
        )
    elif kind == "bin":
        (folder / "model.safetensors").unlink()
        torch.save(tensors, folder / "pytorch_model.bin")
    return folder


@pytest.mark.parametrize("kind", ["google", "safetensors", "bf16", "bin"])
@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_row_blocks_load_the_same_weights(
    tmp_path, monkeypatch, google_checkpoint, hf_checkpoint, kind, policy
):
    """Tensors over `CHUNK_BYTES` go in blocks of rows, for every reader and variable kind."""
    from bert_tf.checkpoints import tables

    folder = (
        google_checkpoint.folder
        if kind == "google"
        else _checkpoint_copy(tmp_path, hf_checkpoint, kind)
    )
    whole, _ = tiny_encoder()
    load_checkpoint(folder, whole)
    monkeypatch.setattr(tables, "CHUNK_BYTES", 1024)  # The embeddings: blocks of 8 rows.
    assert (
        len(
            tables._row_blocks(
                tuple(whole.embeddings.word_embeddings.shape),
                whole.embeddings.word_embeddings,
                False,
            )
        )
        > 1
    )
    tf_keras.mixed_precision.set_global_policy(policy)
    try:
        blocks, _ = tiny_encoder()
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
    load_checkpoint(folder, blocks)
    for want, got in zip(whole.weights, blocks.weights):
        np.testing.assert_array_equal(np.asarray(got), want.numpy(), err_msg=want.name)


def test_row_blocks_fill_every_replica(hf_checkpoint):
    """Under MirroredStrategy (two logical CPUs, a fresh process) every replica gets every row."""
    script = pathlib.Path(__file__).with_name("row_blocks_run.py")
    result = subprocess.run(
        [sys.executable, str(script), str(hf_checkpoint.folder)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["diffs"] and max(report["diffs"].values()) == 0.0, report["diffs"]
