"""End-to-end exports from every source format, checked against the torch reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from export_helpers import (
    REPO,
    SEQ_LENGTH,
    assert_matches_reference,
    leftovers,
    run_cli,
    run_script,
)

import bert_tf.cli.export as export_main
from bert_tf import interface


def test_google_tf1_export_with_mlm_matches_reference(tiny_mlm_export, checkpoints, tiny_config):
    assert sorted(p.name for p in tiny_mlm_export.iterdir()) == [
        "README.md",
        "encoder",
        "preprocess",
    ]
    assert_matches_reference(
        tiny_mlm_export / "encoder", checkpoints["google"], tiny_config, mlm=True
    )
    meta = interface.read_metadata(tiny_mlm_export)
    assert meta.source.format == "google"
    assert meta.with_mlm is True
    assert set(meta.verification.max_abs_diff) == {"__call__", "serving_default", "tokens", "mlm"}
    # No name or config hint: casing was read off the vocab, and said so.
    assert meta.tokenizer.do_lower_case is True
    assert "upper-case" in meta.tokenizer.source
    assert set(meta.source.sha256) == {
        "bert_model.ckpt.index",
        "bert_model.ckpt.data-00000-of-00001",
    }


def test_model_garden_alias_flags_in_a_subprocess(tmp_path, checkpoints, tiny_config):
    """export_tfhub.py's flag names work unchanged (the program name is all that changes)."""
    folder = checkpoints["hf_safetensors"].folder
    out = tmp_path / "aliases"
    result = run_script(
        "bert-tf-export",
        f"--model_checkpoint_path={folder}",
        f"--bert_config_file={folder / 'config.json'}",
        f"--vocab_file={folder / 'vocab.txt'}",
        "--do_lower_case",
        f"--export_path={out}",
        f"--default_seq_length={SEQ_LENGTH}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Exported {out}" in result.stdout
    assert "Traceback" not in result.stderr
    assert_matches_reference(out / "encoder", checkpoints["hf_safetensors"], tiny_config)
    meta = interface.read_metadata(out)
    assert meta.source.format == "huggingface"
    assert meta.tokenizer.source == "--do_lower_case"
    assert meta.default_seq_length == SEQ_LENGTH


def test_hf_bin_export_replaces_old_folder_after_success(
    tmp_path, checkpoints, tiny_config, cached_preprocess
):
    out = tmp_path / "hf_bin"
    out.mkdir()
    (out / "old_export_marker").write_text("old")
    status = run_cli(
        export_main,
        f"--checkpoint={checkpoints['hf_bin'].folder}",
        f"--output_dir={out}",
        f"--default_seq_length={SEQ_LENGTH}",
        "--overwrite",
        "--noserving_jit_compile",
    )
    assert status == 0
    assert leftovers(out) == ["hf_bin"]
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "encoder", "preprocess"]
    assert_matches_reference(out / "encoder", checkpoints["hf_bin"], tiny_config)
    meta = interface.read_metadata(out)
    assert meta.tokenizer.source.endswith("tokenizer_config.json")
    assert meta.serving_jit_compile is False
    assert "mlm" not in meta.verification.max_abs_diff


def test_model_card(tiny_mlm_export):
    card = (tiny_mlm_export / "README.md").read_text()
    for line in (
        "<!-- network-architecture: transformer -->",
        "<!-- fine-tunable: true -->",
        "<!-- format: saved_model_2 -->",
        "<!-- language: ",
    ):
        assert line in card
    # Usage examples name the real, final paths (not the temporary folder).
    assert f'hub.KerasLayer("{tiny_mlm_export / "encoder"}", trainable=True)' in card
    assert f'hub.load("{tiny_mlm_export / "preprocess"}")' in card
    assert ".tmp-" not in card
    assert "bert_pack_inputs([tokenize(premise), tokenize(hypothesis)])" in card
    assert "sha256" in card and "do_lower_case: True" in card
    meta = json.loads(interface.ExportLayout(tiny_mlm_export).metadata_file.read_text())
    for endpoint, diff in meta["verification"]["max_abs_diff"].items():
        assert f"| `{endpoint}` | {diff:.2e} |" in card
    assert "bert-tf-fill-mask" in card  # exported with the MLM head


def test_export_folder_is_readable_by_others(tiny_mlm_export):
    # mkdtemp makes 0o700 folders; the export must get the usual permissions.
    assert os.stat(tiny_mlm_export).st_mode & 0o055 == 0o055 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.parametrize(
    "argv, message",
    [
        ((), "missing --checkpoint and --output_dir"),
        (("--checkpoint=x",), "missing --output_dir"),
    ],
)
def test_usage_errors(argv, message, capsys):
    assert run_cli(export_main, *argv) == 1
    assert f"error: {message}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "bert_tf.cli.export", "--help"],
        # As the `bert-tf-export` console script starts it: `__main__` is a wrapper.
        [
            "-c",
            "import sys; sys.argv[0] = 'bert-tf-export'; from bert_tf.export.__main__ import run; run()",
            "--help",
        ],
    ],
)
def test_help_is_a_usage_guide(command):
    result = subprocess.run(
        [sys.executable, *command], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr[-2000:]
    for text in (
        "bert-tf-export --checkpoint=",
        "--checkpoint (also --model_checkpoint_path)\n",
        "--output_dir (also --export_path)\n",
        "--[no]with_mlm",
        "--[no]overwrite",
        "--default_seq_length",
    ):
        assert text in result.stdout, text
    assert "tensorflow" not in result.stderr.lower()  # --help does not even import TF
