"""What an export is made of: each detected choice, and the reason it is logged with."""

from __future__ import annotations

import logging
import shutil

import pytest

from bert_tf.export.sources import resolve_sources


def _google_copy(checkpoints, tmp_path, name):
    return shutil.copytree(checkpoints["google"].folder, tmp_path / name)


@pytest.mark.parametrize(
    "source, kwargs, lower, strip, reason",
    [
        # No hint at all: the tiny vocab has no upper-case wordpieces.
        ("google", {}, True, True, "has no wordpieces with upper-case letters"),
        ("google", {"do_lower_case": False}, False, False, "--do_lower_case"),
        ("uncased_L-2_H-32_A-4", {}, True, True, "the checkpoint's name"),
        ("cased_L-2_H-32_A-4", {}, False, False, "the checkpoint's name"),
        (
            "google",
            {"config": "bert_multi_cased_L-12_H-768_A-12"},
            False,
            False,
            "preset bert_multi_cased_L-12_H-768_A-12",
        ),
        ("hf_safetensors", {}, True, True, "tokenizer_config.json"),
        # --do_lower_case overrides tokenizer_config.json, which also sets strip_accents=None.
        ("hf_safetensors", {"do_lower_case": False}, False, False, "--do_lower_case"),
    ],
)
def test_tokenizer_settings_and_their_reason(
    source, kwargs, lower, strip, reason, checkpoints, tmp_path, caplog
):
    if source in checkpoints:
        folder = checkpoints[source].folder
    else:
        folder = _google_copy(checkpoints, tmp_path, source)
    with caplog.at_level(logging.INFO, logger="absl"):
        sources = resolve_sources(str(folder), **kwargs)
    assert sources.settings.do_lower_case is lower
    assert sources.settings.effective_strip_accents is strip
    assert reason in sources.settings_source
    assert any(
        reason in record.getMessage() and "do_lower_case" in record.getMessage()
        for record in caplog.records
    )


def test_config_vocab_and_format_detection(checkpoints, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="absl"):
        google = resolve_sources(str(checkpoints["google"].folder / "bert_model.ckpt"))
    assert google.files.format == "google"
    assert google.config.hidden_act == "gelu_tanh"  # google-research "gelu"
    assert google.config_source.endswith("bert_config.json (beside the checkpoint)")
    assert google.vocab_file.endswith("vocab.txt")
    assert any("Checkpoint: google format" in r.getMessage() for r in caplog.records)

    hf = resolve_sources(str(checkpoints["hf_bin"].folder))
    assert hf.files.format == "huggingface"
    assert hf.config.hidden_act == "gelu_exact"  # Hugging Face "gelu"

    preset = resolve_sources(str(checkpoints["google"].folder), config="bert_uncased_L-2_H-128_A-2")
    assert preset.preset.name == "bert_uncased_L-2_H-128_A-2"
    assert preset.config.hidden_size == 128
    assert preset.config_source == "preset bert_uncased_L-2_H-128_A-2 (--config)"


def test_minilm_matches_its_preset(minilm_dir):
    sources = resolve_sources(str(minilm_dir))
    assert sources.preset is not None and sources.preset.name == "all-MiniLM-L6-v2"
    assert "architecture matches preset all-MiniLM-L6-v2" in sources.config_source
    assert sources.settings.do_lower_case is True
