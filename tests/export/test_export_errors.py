"""Every error case of the export CLI: one line `error: ...`, non-zero exit, nothing written."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import shutil

import checkpoint_factory
import pytest
from export_helpers import SEQ_LENGTH, leftovers, run_cli, run_script

import bert_tf.cli.export as export_main
from bert_tf import atomic
from bert_tf.export import pair, saved_encoder


def _copy(folder: pathlib.Path, tmp_path: pathlib.Path, name: str) -> pathlib.Path:
    return pathlib.Path(shutil.copytree(folder, tmp_path / name))


def _truncate(path: pathlib.Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _case_missing_checkpoint(tmp_path, checkpoints):
    return [f"--checkpoint={tmp_path / 'nowhere' / 'bert_model.ckpt'}"], "checkpoint not found"


def _case_truncated_tf1_data(tmp_path, checkpoints):
    folder = _copy(checkpoints["google"].folder, tmp_path, "google_truncated")
    _truncate(folder / "bert_model.ckpt.data-00000-of-00001")
    return [f"--checkpoint={folder}"], "bert_model.ckpt"


def _case_truncated_safetensors(tmp_path, checkpoints):
    folder = _copy(checkpoints["hf_safetensors"].folder, tmp_path, "hf_truncated")
    _truncate(folder / "model.safetensors")
    return [f"--checkpoint={folder}"], "model.safetensors"


def _case_config_shape_mismatch(tmp_path, checkpoints):
    config = checkpoint_factory.tiny_config(intermediate_size=48)
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(config))
    return (
        [f"--checkpoint={checkpoints['google'].folder}", f"--config={path}"],
        "intermediate/dense/kernel",
    )


def _case_preset_mismatch(tmp_path, checkpoints):
    # A checkpoint with the preset's vocab and width but another feed-forward size.
    config = checkpoint_factory.tiny_config(
        vocab_size=30522,
        hidden_size=128,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    written = checkpoint_factory.write_google_checkpoint(
        tmp_path / "not_the_preset", config, seed=5, with_heads=False
    )
    return (
        [f"--checkpoint={written.folder}", "--config=bert_uncased_L-2_H-128_A-2"],
        "checkpoint does not match preset bert_uncased_L-2_H-128_A-2",
    )


def _case_unknown_preset(tmp_path, checkpoints):
    return (
        [f"--checkpoint={checkpoints['google'].folder}", "--config=bert_huge_L-99"],
        "is neither a file nor a preset name",
    )


def _case_vocab_size(tmp_path, checkpoints):
    vocab = tmp_path / "short_vocab.txt"
    checkpoint_factory.write_vocab(vocab)
    lines = vocab.read_text().splitlines()[:-10]
    vocab.write_text("\n".join(lines) + "\n")
    return (
        [f"--checkpoint={checkpoints['google'].folder}", f"--vocab_file={vocab}"],
        f"vocab size {len(lines)} of {vocab} differs from the config's vocab_size 116",
    )


def _case_missing_vocab_file(tmp_path, checkpoints):
    return (
        [f"--checkpoint={checkpoints['google'].folder}", f"--vocab_file={tmp_path / 'none.txt'}"],
        "none.txt: no such file",
    )


def _case_with_mlm_without_head(tmp_path, checkpoints):
    return (
        [f"--checkpoint={checkpoints['hf_bin'].folder}", "--with_mlm"],
        "has no masked-LM head weights",
    )


def _case_with_nsp_without_head(tmp_path, checkpoints):
    return (
        [f"--checkpoint={checkpoints['hf_bin'].folder}", "--with_nsp"],
        "has no next-sentence head weights",
    )


def _case_seq_length_too_long(tmp_path, checkpoints):
    return (
        [f"--checkpoint={checkpoints['google'].folder}", "--default_seq_length=65"],
        "--default_seq_length 65 exceeds the config's max_position_embeddings 64",
    )


CASES = [
    _case_missing_checkpoint,
    _case_truncated_tf1_data,
    _case_truncated_safetensors,
    _case_config_shape_mismatch,
    _case_preset_mismatch,
    _case_unknown_preset,
    _case_vocab_size,
    _case_missing_vocab_file,
    _case_with_mlm_without_head,
    _case_with_nsp_without_head,
    _case_seq_length_too_long,
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__[len("_case_") :])
def test_bad_input(case, tmp_path, checkpoints, capsys):
    args, message = case(tmp_path, checkpoints)
    out = tmp_path / "exports" / "out"
    if not any(arg.startswith("--default_seq_length") for arg in args):
        args.append(f"--default_seq_length={SEQ_LENGTH}")
    status = run_cli(export_main, *args, f"--output_dir={out}")
    err = capsys.readouterr().err
    assert status == 1
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "exports").exists()  # not even the parent folder


def test_shape_mismatch_names_variable_and_both_shapes(tmp_path, checkpoints, capsys):
    args, _ = _case_config_shape_mismatch(tmp_path, checkpoints)
    assert (
        run_cli(
            export_main,
            *args,
            f"--output_dir={tmp_path / 'out'}",
            f"--default_seq_length={SEQ_LENGTH}",
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "[32, 48]" in err and "[32, 64]" in err, err


def test_shape_mismatch_counts_the_rest_and_promises_no_report(tmp_path, checkpoints, capsys):
    args, _ = _case_config_shape_mismatch(tmp_path, checkpoints)
    run_cli(
        export_main, *args, f"--output_dir={tmp_path / 'out'}", f"--default_seq_length={SEQ_LENGTH}"
    )
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error: ")]
    assert line.endswith("more like it)") and "report" not in line, line


@pytest.mark.slow
def test_truncated_real_checkpoint_names_the_file_not_the_preset(tmp_path, minilm_dir, capsys):
    # all-MiniLM-L6-v2 matches a preset: the error must still blame the file.
    folder = _copy(minilm_dir, tmp_path, "minilm")
    _truncate(folder / "model.safetensors")
    status = run_cli(export_main, f"--checkpoint={folder}", f"--output_dir={tmp_path / 'out'}")
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error: ")]
    assert status == 1
    assert f"cannot read safetensors file {folder / 'model.safetensors'}" in line, line
    assert "preset" not in line, line
    assert not (tmp_path / "out").exists()


def test_output_dir_exists_without_overwrite(tmp_path, checkpoints, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    assert (
        run_cli(export_main, f"--checkpoint={checkpoints['google'].folder}", f"--output_dir={out}")
        == 1
    )
    assert (
        f"error: --output_dir {out} already exists: pass --overwrite to replace it"
        in capsys.readouterr().err
    )
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_output_folder_not_writable(tmp_path, checkpoints, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = blocker / "out"
    assert (
        run_cli(export_main, f"--checkpoint={checkpoints['google'].folder}", f"--output_dir={out}")
        == 1
    )
    assert f"error: output folder not writable: {blocker} is not a folder" in (
        capsys.readouterr().err
    )


def test_cli_errors_in_a_subprocess_have_no_traceback(tmp_path):
    out = tmp_path / "out"
    result = run_script(
        "bert-tf-export", f"--checkpoint={tmp_path / 'missing'}", f"--output_dir={out}"
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: checkpoint not found")
    assert "Traceback" not in result.stderr
    assert not out.exists()


# What TensorFlow, tf-hub and absl print on their own: never shown at the default verbosity.
NOISE = ("I0000", "W0000", "E0000", "WARNING:", "pkg_resources", "cuInit", "oneDNN", "Traceback")


def test_a_failing_export_prints_progress_and_one_error_line(tmp_path, checkpoints):
    folder = _copy(checkpoints["hf_safetensors"].folder, tmp_path, "hf_truncated")
    _truncate(folder / "model.safetensors")
    result = run_script(
        "bert-tf-export", f"--checkpoint={folder}", f"--output_dir={tmp_path / 'o'}"
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1
    assert lines[0].startswith("Checkpoint: huggingface format"), result.stderr
    assert [line for line in lines if line.startswith("error: ")] == [lines[-1]]
    assert not [line for line in lines if any(word in line for word in NOISE)], result.stderr


def _fail_while_saving(error: BaseException):
    def save(encoder, path, **kwargs):
        pathlib.Path(path).mkdir(parents=True)
        (pathlib.Path(path) / "saved_model.pb").write_bytes(b"half")
        raise error

    return save


@pytest.mark.parametrize(
    "error, message, status",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "disk full while writing", 1),
        (KeyboardInterrupt(), "interrupted: nothing was written", 130),
    ],
)
def test_failure_mid_write_keeps_old_export(
    error, message, status, tmp_path, checkpoints, cached_preprocess, monkeypatch, capsys
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("the previous export")
    monkeypatch.setattr(saved_encoder, "save_encoder", _fail_while_saving(error))
    assert (
        run_cli(
            export_main,
            f"--checkpoint={checkpoints['google'].folder}",
            f"--output_dir={out}",
            f"--default_seq_length={SEQ_LENGTH}",
            "--overwrite",
        )
        == status
    )
    assert f"error: {message}" in capsys.readouterr().err
    assert leftovers(out) == ["out"]
    assert sorted(p.name for p in out.iterdir()) == ["README.md"]
    assert (out / "README.md").read_text() == "the previous export"


def test_failure_mid_write_to_new_folder_leaves_nothing(
    tmp_path, checkpoints, cached_preprocess, monkeypatch
):
    out = tmp_path / "new" / "out"
    monkeypatch.setattr(saved_encoder, "save_encoder", _fail_while_saving(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        pair.export_pair(
            os.fspath(checkpoints["google"].folder), os.fspath(out), default_seq_length=SEQ_LENGTH
        )
    assert not (tmp_path / "new").exists()


def test_verification_failure_aborts(tmp_path, checkpoints, cached_preprocess, monkeypatch, capsys):
    """A saved encoder that does not reproduce the in-memory one is never renamed into place."""
    import tensorflow as tf

    out = tmp_path / "out"
    real_reference = pair.verify.reference_outputs

    def reference_then_perturb(encoder, mlm_model, probe, nsp_model=None):
        # Perturb a weight after the reference outputs were taken, before saving.
        outputs = real_reference(encoder, mlm_model, probe, nsp_model)
        weight = encoder.pooler.trainable_variables[0]
        weight.assign_add(0.01 * tf.ones_like(weight))
        return outputs

    monkeypatch.setattr(pair.verify, "reference_outputs", reference_then_perturb)
    assert (
        run_cli(
            export_main,
            f"--checkpoint={checkpoints['google'].folder}",
            f"--output_dir={out}",
            f"--default_seq_length={SEQ_LENGTH}",
            "--noserving_jit_compile",
        )
        == 1
    )
    err = capsys.readouterr().err
    # The first endpoint checked (the serving signature) names the wrong output.
    assert "error: verification failed: serving_default output 'pooled_output' differs" in err, err
    assert leftovers(out) == []


def test_stale_temporary_of_a_killed_export_is_removed(tmp_path):
    out = tmp_path / "out"
    stale = tmp_path / ".out.tmp-999999999-abc"  # no such process
    stale.mkdir()
    live = tmp_path / f".out.tmp-{os.getpid()}-abc"  # this process: kept
    live.mkdir()
    with atomic.atomic_directory(out) as tmp:
        (tmp / "file").write_text("x")
    assert not stale.exists() and live.exists()
    assert (out / "file").read_text() == "x"
