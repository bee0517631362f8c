"""Fixtures for the precision tests: float32 and bfloat16 exports of one checkpoint.

Each export is made once per session; the tiny pair (with the masked-LM head,
so that `mlm` is compared too) takes seconds, the MiniLM one (slow tests) ~10 s.
"""

from __future__ import annotations

import os
import pathlib

import checkpoint_factory
import pytest

# Long enough for the verification pairs, within the tiny config's 64 positions.
TINY_SEQ_LENGTH = 32


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    return checkpoint_factory.tiny_config()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_config) -> checkpoint_factory.WrittenCheckpoint:
    """A google-research TF1 checkpoint with the masked-LM and NSP heads."""
    root = tmp_path_factory.mktemp("precision_checkpoint")
    return checkpoint_factory.write_google_checkpoint(
        root / "google", tiny_config, seed=4, with_heads=True
    )


def _export(tmp_path_factory, checkpoint: str, name: str, **options) -> pathlib.Path:
    from bert_tf.export import pair

    out = tmp_path_factory.mktemp("precision_exports") / name
    pair.export_pair(checkpoint, os.fspath(out), **options)
    return out


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory, tiny_checkpoint) -> dict[str, pathlib.Path]:
    """precision -> the tiny checkpoint's export (with `mlm`) in that precision."""
    checkpoint = os.fspath(tiny_checkpoint.folder / "bert_model.ckpt")
    return {
        precision: _export(
            tmp_path_factory,
            checkpoint,
            f"tiny_{precision}",
            with_mlm=True,
            default_seq_length=TINY_SEQ_LENGTH,
            precision=precision,
        )
        for precision in ("float32", "bfloat16")
    }


@pytest.fixture(scope="session")
def minilm_bf16_export(tmp_path_factory, minilm_dir) -> pathlib.Path:
    """all-MiniLM-L6-v2 exported with `precision="bfloat16"`."""
    return _export(tmp_path_factory, os.fspath(minilm_dir), "minilm_bf16", precision="bfloat16")
