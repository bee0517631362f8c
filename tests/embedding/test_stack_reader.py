"""Reading sentence-transformers files without TensorFlow: modules.json, Pooling, Dense, prompts,
tokenizer.json. Fast: tiny JSON folders, no model."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from bert_tf.checkpoints.sentence_transformers import (
    PoolingStack,
    read_dense_weights,
    read_pooling_stack,
)
from bert_tf.checkpoints.tokenizer_json import read_tokenizer_json, write_vocab
from bert_tf.errors import CheckpointError

OLD = "sentence_transformers.models."


def _folder(tmp_path: pathlib.Path, modules, files: dict[str, object]) -> pathlib.Path:
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    for name, value in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    return tmp_path


def _module(index, kind, path, prefix=OLD):
    return {"idx": index, "name": str(index), "path": path, "type": prefix + kind}


def test_legacy_pooling_keys_concatenate_in_sentence_transformers_order(tmp_path):
    pooling = {
        "word_embedding_dimension": 8,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": True,
        "pooling_mode_max_tokens": False,
    }
    folder = _folder(
        tmp_path,
        [_module(0, "Transformer", ""), _module(1, "Pooling", "1_Pooling")],
        {"1_Pooling/config.json": pooling, "sentence_bert_config.json": {"max_seq_length": 77}},
    )
    stack = read_pooling_stack(folder)
    assert stack.modes == ("cls", "mean") and stack.output_dimension == 16
    assert stack.max_seq_length == 77 and stack.normalize is False and stack.prompts == {}
    assert PoolingStack.from_dict(json.loads(json.dumps(stack.to_dict()))) == stack


def test_v6_paths_model_max_length_prompts_and_dense(tmp_path):
    import safetensors.numpy

    new = "sentence_transformers.base.modules."
    modules = [
        _module(0, "transformer.Transformer", "", new),
        _module(1, "Pooling", "1_Pooling", "sentence_transformers.sentence_transformer.modules."),
        _module(2, "dense.Dense", "2_Dense", new),
        _module(3, "normalize.Normalize", "3_Normalize", new),
    ]
    folder = _folder(
        tmp_path,
        modules,
        {
            "1_Pooling/config.json": {"embedding_dimension": 4, "pooling_mode": ["max", "cls"]},
            "2_Dense/config.json": {
                "in_features": 8,
                "out_features": 3,
                "bias": True,
                "activation_function": "torch.nn.modules.activation.GELU",
            },
            "tokenizer_config.json": {"model_max_length": 64},
            "config_sentence_transformers.json": {
                "prompts": {"query": "query: ", "passage": "passage: "},
                "default_prompt_name": "query",
            },
        },
    )
    weight = np.arange(24, dtype=np.float32).reshape(3, 8)
    bias = np.ones(3, np.float32)
    safetensors.numpy.save_file(
        {"linear.weight": weight, "linear.bias": bias}, str(folder / "2_Dense/model.safetensors")
    )
    stack = read_pooling_stack(folder)
    assert stack.modes == ("max", "cls")  # v6: the order given
    assert stack.describe() == "max + cls pooling + Dense 8->3 gelu + Normalize"
    assert stack.max_seq_length == 64 and stack.default_prompt_name == "query"
    kernel, found_bias = read_dense_weights(stack.dense[0])
    np.testing.assert_array_equal(kernel, weight.T)
    np.testing.assert_array_equal(found_bias, bias)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {
                "2_Dense/config.json": {
                    "in_features": 4,
                    "out_features": 2,
                    "activation_function": "my.Act",
                }
            },
            r"activation_function: expected one of torch\.nn's .* found 'my\.Act'",
        ),
        (
            {"1_Pooling/config.json": {"embedding_dimension": 4, "pooling_mode": "median"}},
            r"1_Pooling/config\.json: pooling mode: expected one of .* found 'median'",
        ),
        (
            {
                "config_sentence_transformers.json": {
                    "prompts": {"q": "q: "},
                    "default_prompt_name": "x",
                }
            },
            r"default_prompt_name 'x' is not one of the prompts \(q\)",
        ),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, change, message):
    files = {
        "1_Pooling/config.json": {"embedding_dimension": 4, "pooling_mode": "mean"},
        "2_Dense/config.json": {"in_features": 4, "out_features": 2},
        **change,
    }
    modules = [
        _module(0, "Transformer", ""),
        _module(1, "Pooling", "1_Pooling"),
        _module(2, "Dense", "2_Dense"),
    ]
    folder = _folder(tmp_path, modules, files)
    (folder / "2_Dense" / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=message) as error:
        read_pooling_stack(folder)
    assert "\n" not in str(error.value)


def test_no_modules_json_is_no_stack(tmp_path):
    assert read_pooling_stack(tmp_path) is None


def test_tokenizer_json_vocab_and_normalizer(tmp_path):
    data = {
        "normalizer": {
            "type": "BertNormalizer",
            "lowercase": False,
            "strip_accents": None,
            "handle_chinese_chars": False,
        },
        "model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "b": 2, "[UNK]": 1, "##c": 3}},
    }
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(data))
    found = read_tokenizer_json(path)
    assert found.tokens == ("[PAD]", "[UNK]", "b", "##c")
    assert (found.lowercase, found.strip_accents, found.tokenize_chinese_chars) == (
        False,
        None,
        False,
    )
    vocab = write_vocab(found.tokens, tmp_path)
    assert vocab.read_text() == "[PAD]\n[UNK]\nb\n##c\n"
    data["model"]["vocab"] = {"[PAD]": 0, "b": 5}
    path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=r"model\.vocab: expected the ids 0\.\.1"):
        read_tokenizer_json(path)
