"""Parity: our encoder and heads equal Hugging Face PyTorch on the same weights.

Tiny random checkpoints in every source format; inputs with padding, two
segments and batch 3. Every `encoder_outputs` layer, `pooled_output`,
`mlm_logits` and `nsp_logits` within 1e-4 (float32).
"""

import json

import checkpoint_factory as factory
import numpy as np
import pytest
from checkpoint_factory import PARITY_ATOL

from bert_tf import (
    BertConfig,
    build_encoder,
    build_mlm_model,
    build_nsp_model,
    find_checkpoint,
    load_checkpoint,
)

HF_VARIANTS = {
    "safetensors_prefix": dict(weights_format="safetensors", prefix=True),
    "safetensors_no_prefix": dict(weights_format="safetensors", prefix=False),
    "bin_prefix": dict(weights_format="bin", prefix=True),
    "bin_no_prefix_old_layernorm": dict(
        weights_format="bin", prefix=False, old_layernorm_names=True
    ),
    "safetensors_old_layernorm": dict(weights_format="safetensors", old_layernorm_names=True),
    "encoder_only_bin": dict(weights_format="bin", with_heads=False),
}


def run_ours(checkpoint_path, inputs, positions):
    """Builds from the checkpoint's own config, loads, runs; returns outputs and report."""
    files = find_checkpoint(checkpoint_path)
    config = BertConfig.from_file(files.config)
    encoder = build_encoder(config)
    mlm_model = build_mlm_model(encoder, config)
    nsp_model = build_nsp_model(encoder, config)
    report = load_checkpoint(files, encoder, mlm_model=mlm_model, nsp_model=nsp_model)
    outputs = {k: v for k, v in mlm_model(dict(inputs, masked_lm_positions=positions)).items()}
    outputs["nsp_logits"] = nsp_model(inputs)["nsp_logits"]
    return outputs, report


def assert_parity(outputs, expected, num_layers):
    diffs = factory.max_abs_diffs(outputs, expected)
    expected_keys = {f"encoder_outputs/{i}" for i in range(num_layers)} | {
        "pooled_output",
        "sequence_output",
    }
    assert expected_keys <= set(diffs)
    assert max(diffs.values()) <= PARITY_ATOL, diffs
    np.testing.assert_array_equal(outputs["sequence_output"], outputs["encoder_outputs"][-1])
    np.testing.assert_array_equal(outputs["default"], outputs["pooled_output"])


def test_google_checkpoint_parity(
    google_checkpoint, tiny_inputs, masked_positions, tiny_config_dict
):
    folder, reference = google_checkpoint
    assert reference.config.hidden_act == "gelu_new"  # google "gelu" = tanh GELU.
    outputs, report = run_ours(folder / "bert_model.ckpt", tiny_inputs, masked_positions)
    expected = factory.reference_outputs(reference, tiny_inputs, masked_positions)
    assert {"mlm_logits", "nsp_logits"} <= set(expected)
    assert_parity(outputs, expected, tiny_config_dict["num_hidden_layers"])
    assert report.format == "google" and report.has_mlm_head and report.has_nsp_head
    assert not report.missing and not report.unused and not report.mismatched
    assert report.ignored["global_step"] == "training step counter"
    assert report.ignored["bert/pooler/dense/kernel/adam_m"] == "optimizer slot"


def test_google_gelu_is_not_exact_gelu(google_checkpoint, tiny_inputs, masked_positions):
    """The activation convention matters: with exact GELU the outputs move beyond 1e-4."""
    folder, reference = google_checkpoint
    files = find_checkpoint(folder)
    config = BertConfig.from_file(files.config).replace(hidden_act="gelu_exact")
    encoder = build_encoder(config)
    load_checkpoint(files, encoder)
    expected = factory.reference_outputs(reference, tiny_inputs)
    assert (
        np.max(np.abs(encoder(tiny_inputs)["sequence_output"] - expected["sequence_output"]))
        > 10 * PARITY_ATOL
    )


@pytest.mark.parametrize("variant", sorted(HF_VARIANTS))
def test_hf_checkpoint_parity(
    variant, checkpoints_root, tiny_config_dict, tiny_inputs, masked_positions
):
    options = HF_VARIANTS[variant]
    folder, reference = factory.write_hf_checkpoint(
        checkpoints_root / f"hf_{variant}", tiny_config_dict, seed=3, **options
    )
    outputs, report = run_ours(folder, tiny_inputs, masked_positions)
    expected = factory.reference_outputs(reference, tiny_inputs, masked_positions)
    with_heads = options.get("with_heads", True)
    if not with_heads:
        outputs = {k: v for k, v in outputs.items() if k not in ("mlm_logits", "nsp_logits")}
    assert_parity(outputs, expected, tiny_config_dict["num_hidden_layers"])
    assert report.format == "huggingface"
    assert report.has_mlm_head == report.has_nsp_head == with_heads
    assert not report.unused and not report.mismatched
    assert bool(report.missing) == (not with_heads)
    assert all(name.startswith(("mlm/", "nsp/")) for name in report.missing)
    if options["weights_format"] == "bin" and with_heads:
        # Older transformers wrote the tied decoder copies; they are recognised, not loaded.
        assert report.ignored["cls.predictions.decoder.weight"] == "tied to the word embeddings"
        assert report.ignored["cls.predictions.decoder.bias"].startswith("alias of")


def test_sentence_transformers_folder(checkpoints_root, tiny_config_dict, tiny_inputs):
    """An old-style sentence-transformers folder keeps the encoder in `0_Transformer/`."""
    root = checkpoints_root / "st_model"
    folder, reference = factory.write_hf_checkpoint(
        root / "0_Transformer", tiny_config_dict, seed=4, with_heads=False
    )
    (root / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "0_Transformer",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
            ]
        )
    )
    files = find_checkpoint(root)
    assert files.weights == str(folder / "model.safetensors")
    assert files.config == str(folder / "config.json")
    assert files.vocab == str(folder / "vocab.txt")
    encoder = build_encoder(BertConfig.from_file(files.config))
    load_checkpoint(files, encoder)
    expected = factory.reference_outputs(reference, tiny_inputs)
    diffs = factory.max_abs_diffs(encoder(tiny_inputs), expected)
    assert max(diffs.values()) <= PARITY_ATOL, diffs


def test_other_architecture_parity(checkpoints_root, tiny_inputs):
    """A wider, deeper, longer config (other head count, relu) still matches the reference."""
    config_dict = factory.tiny_config(
        hidden_size=48,
        num_attention_heads=3,
        num_hidden_layers=3,
        intermediate_size=40,
        hidden_act="relu",
        type_vocab_size=3,
        max_position_embeddings=16,
    )
    folder, reference = factory.write_hf_checkpoint(
        checkpoints_root / "hf_relu", config_dict, seed=5, weights_format="bin"
    )
    inputs = factory.sample_inputs(config_dict, batch=2, seq_length=16, seed=1)
    inputs["input_type_ids"][0, -3:] = 2  # A third segment id.
    encoder = build_encoder(BertConfig.from_file(folder / "config.json"))
    load_checkpoint(folder, encoder)
    diffs = factory.max_abs_diffs(encoder(inputs), factory.reference_outputs(reference, inputs))
    assert max(diffs.values()) <= PARITY_ATOL, diffs
