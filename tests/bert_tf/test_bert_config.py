"""BertConfig: the three file kinds, the activation convention, validation; the presets."""

import json

import pytest

from bert_tf import BertConfig, ConfigError
from bert_tf.presets import find_preset, list_presets, load_preset

GOOGLE_BASE = {
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "type_vocab_size": 2,
    "vocab_size": 30522,
}  # google-research's uncased_L-12_H-768_A-12/bert_config.json, verbatim.


def write_json(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_google_json(tmp_path):
    config = BertConfig.from_google_json(write_json(tmp_path, "bert_config.json", GOOGLE_BASE))
    assert config == load_preset("bert_uncased_L-12_H-768_A-12").config
    assert config.hidden_act == "gelu_tanh"
    assert config.layer_norm_eps == 1e-12 and config.head_size == 64


@pytest.mark.parametrize(
    "file_act, kind, ours",
    [
        ("gelu", "google", "gelu_tanh"),
        ("relu", "google", "relu"),
        ("gelu", "hf", "gelu_exact"),
        ("gelu_new", "hf", "gelu_tanh"),
        ("gelu_pytorch_tanh", "hf", "gelu_tanh"),
        ("silu", "hf", "silu"),
        ("swish", "hf", "silu"),
    ],
)
def test_activation_convention(tmp_path, file_act, kind, ours):
    data = dict(GOOGLE_BASE, hidden_act=file_act)
    if kind == "hf":
        data.update(model_type="bert", architectures=["BertModel"], layer_norm_eps=1e-7)
    path = write_json(tmp_path, "config.json", data)
    config = BertConfig.from_file(path)
    assert config.hidden_act == ours
    assert config.layer_norm_eps == (1e-7 if kind == "hf" else 1e-12)


def test_from_file_reads_our_schema(tmp_path):
    config = load_preset("all-MiniLM-L6-v2").config
    path = write_json(tmp_path, "ours.json", config.to_dict())
    assert BertConfig.from_file(path) == config


def test_minilm_hf_config_matches_preset(minilm_dir):
    assert (
        BertConfig.from_file(minilm_dir / "config.json") == load_preset("all-MiniLM-L6-v2").config
    )


@pytest.mark.parametrize(
    "changes, field, shown",
    [
        (dict(hidden_size=100), "'hidden_size'", "multiple of num_heads=12, got 100"),
        (dict(num_layers=0), "'num_layers'", "got 0"),
        (dict(vocab_size=-5), "'vocab_size'", "got -5"),
        (dict(vocab_size=3.5), "'vocab_size'", "got 3.5"),
        (dict(hidden_act="gelu"), "'hidden_act'", "got 'gelu'"),
        (dict(hidden_dropout=1.5), "'hidden_dropout'", "got 1.5"),
        (dict(layer_norm_eps=0), "'layer_norm_eps'", "got 0"),
    ],
)
def test_validation_names_field_and_value(changes, field, shown):
    values = dict(load_preset("bert_uncased_L-12_H-768_A-12").config.to_dict(), **changes)
    with pytest.raises(ConfigError) as info:
        BertConfig.from_dict(values)
    assert field in str(info.value) and shown in str(info.value)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"hidden_size": 8}, "missing field(s) 'vocab_size'"),
        (dict(GOOGLE_BASE, hidden_act="tanh"), "field 'hidden_act': expected one of"),
        (dict(GOOGLE_BASE, num_attention_heads=7), "'hidden_size': expected a multiple of"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_file_errors_name_the_file(tmp_path, data, message):
    path = write_json(tmp_path, "bert_config.json", data)
    with pytest.raises(ConfigError) as info:
        BertConfig.from_google_json(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_unsupported_hf_position_embeddings(tmp_path):
    path = write_json(
        tmp_path,
        "config.json",
        dict(GOOGLE_BASE, model_type="bert", position_embedding_type="relative_key"),
    )
    with pytest.raises(ConfigError, match="'position_embedding_type': only 'absolute'"):
        BertConfig.from_file(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        BertConfig.from_file(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        BertConfig.from_file(tmp_path / "bad.json")


def test_unknown_field_in_our_schema():
    with pytest.raises(ConfigError, match="unknown config field.*'hidden_layers'"):
        BertConfig.from_dict(dict(GOOGLE_BASE, hidden_layers=3))


# --- presets ---------------------------------------------------------------------------

SMALL_BERTS = [
    f"bert_uncased_L-{layers}_H-{hidden}_A-{hidden // 64}"
    for layers in (2, 4, 6, 8, 10, 12)
    for hidden in (128, 256, 512, 768)
]

# name -> (vocab, layers, hidden, heads, intermediate, hidden_act, lower, language, format)
RELEASES = {
    "bert_uncased_L-12_H-768_A-12": (30522, 12, 768, 12, 3072, "gelu_tanh", True, "en", "google"),
    "bert_cased_L-12_H-768_A-12": (28996, 12, 768, 12, 3072, "gelu_tanh", False, "en", "google"),
    "bert_uncased_L-24_H-1024_A-16": (30522, 24, 1024, 16, 4096, "gelu_tanh", True, "en", "google"),
    "bert_cased_L-24_H-1024_A-16": (28996, 24, 1024, 16, 4096, "gelu_tanh", False, "en", "google"),
    "bert_chinese_L-12_H-768_A-12": (21128, 12, 768, 12, 3072, "gelu_tanh", True, "zh", "google"),
    "bert_multi_cased_L-12_H-768_A-12": (
        119547,
        12,
        768,
        12,
        3072,
        "gelu_tanh",
        False,
        "multilingual",
        "google",
    ),
    "klue_bert_cased_L-12_H-768_A-12": (
        32000,
        12,
        768,
        12,
        3072,
        "gelu_exact",
        False,
        "ko",
        "huggingface",
    ),
    "bert-base-cased": (28996, 12, 768, 12, 3072, "gelu_exact", False, "en", "huggingface"),
    "all-MiniLM-L6-v2": (30522, 6, 384, 12, 1536, "gelu_exact", True, "en", "huggingface"),
}


def test_every_required_preset_exists():
    assert set(RELEASES) | set(SMALL_BERTS) <= set(list_presets())
    assert len(SMALL_BERTS) == 24


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_release_presets(name):
    vocab, layers, hidden, heads, intermediate, act, lower, language, fmt = RELEASES[name]
    preset = load_preset(name)
    c = preset.config
    assert (
        c.vocab_size,
        c.num_layers,
        c.hidden_size,
        c.num_heads,
        c.intermediate_size,
        c.hidden_act,
    ) == (vocab, layers, hidden, heads, intermediate, act)
    assert (c.max_position_embeddings, c.type_vocab_size, c.layer_norm_eps) == (512, 2, 1e-12)
    # google-research's tokenization: accents are stripped exactly when lower-casing.
    assert preset.tokenizer == {
        "do_lower_case": lower,
        "strip_accents": lower,
        "tokenize_chinese_chars": True,
    }
    assert (preset.language, preset.format, preset.name) == (language, fmt, name)
    assert preset.source.startswith("https://") and preset.description


@pytest.mark.parametrize("name", SMALL_BERTS)
def test_small_bert_presets(name):
    layers, hidden = (
        int(name.split("_L-")[1].split("_")[0]),
        int(name.split("_H-")[1].split("_")[0]),
    )
    c = load_preset(name).config
    assert (
        c.num_layers,
        c.hidden_size,
        c.num_heads,
        c.intermediate_size,
        c.vocab_size,
        c.hidden_act,
    ) == (layers, hidden, hidden // 64, 4 * hidden, 30522, "gelu_tanh")
    assert load_preset(name).tokenizer["do_lower_case"] is True


def test_from_preset_and_find_preset():
    config = BertConfig.from_preset("bert_cased_L-12_H-768_A-12")
    assert config.vocab_size == 28996
    assert find_preset(config) == ["bert_cased_L-12_H-768_A-12"]
    assert find_preset(load_preset("bert-base-cased").config) == ["bert-base-cased"]


def test_unknown_preset_lists_known_ones():
    with pytest.raises(
        ConfigError, match="unknown preset 'bert_huge'; known presets: .*all-MiniLM-L6-v2"
    ):
        load_preset("bert_huge")
