"""Fixtures for the export tests: tiny random checkpoints, one tiny export, CLI runners.

Exports are the expensive part (the preprocessing model takes seconds to build
and save), so each is made once per session and shared; the error-path tests
reuse one built preprocessing model (`cached_preprocess`).
"""

from __future__ import annotations

import functools
import os
import pathlib

import checkpoint_factory
import pytest
from export_helpers import SEQ_LENGTH


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    return checkpoint_factory.tiny_config()


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory, tiny_config) -> dict[str, checkpoint_factory.WrittenCheckpoint]:
    """One tiny random checkpoint per source format, by name."""
    root = tmp_path_factory.mktemp("checkpoints")
    return {
        # google-research TF1, with MLM + NSP heads, optimizer slots, global_step.
        "google": checkpoint_factory.write_google_checkpoint(
            root / "google", tiny_config, seed=1, with_heads=True
        ),
        # Hugging Face safetensors, `bert.` prefix, with heads.
        "hf_safetensors": checkpoint_factory.write_hf_checkpoint(
            root / "hf_safetensors", tiny_config, seed=2, weights_format="safetensors"
        ),
        # Hugging Face torch .bin, no prefix, old LayerNorm gamma/beta names, no heads.
        "hf_bin": checkpoint_factory.write_hf_checkpoint(
            root / "hf_bin",
            tiny_config,
            seed=3,
            weights_format="bin",
            prefix=False,
            old_layernorm_names=True,
            with_heads=False,
        ),
    }


@pytest.fixture(scope="session")
def tiny_mlm_export(tmp_path_factory, checkpoints) -> pathlib.Path:
    """The google checkpoint exported in-process with its masked-LM head."""
    from bert_tf.export import pair

    out = tmp_path_factory.mktemp("tiny_export") / "tiny_google"
    pair.export_pair(
        os.fspath(checkpoints["google"].folder / "bert_model.ckpt"),
        os.fspath(out),
        with_mlm=True,
        default_seq_length=SEQ_LENGTH,
    )
    return out


@pytest.fixture(scope="session")
def _preprocess_cache() -> dict:
    return {}


@pytest.fixture
def cached_preprocess(monkeypatch, _preprocess_cache):
    """Makes `export_pair` reuse preprocessing models built earlier in the session.

    For the tests of CLI flags, errors, interrupts and atomicity: building the
    preprocessing model is tested in full by `tiny_mlm_export` and the MiniLM
    export, and takes seconds each time.
    """
    from bert_tf.export import pair

    original = pair.build_preprocess_model

    @functools.wraps(original)
    def cached(vocab_file, settings, *, default_seq_length=128):
        # Keyed by the vocab's content: the tiny checkpoints all share one vocab.
        key = (pathlib.Path(vocab_file).read_bytes(), settings, default_seq_length)
        if key not in _preprocess_cache:
            _preprocess_cache[key] = original(
                vocab_file, settings, default_seq_length=default_seq_length
            )
        return _preprocess_cache[key]

    monkeypatch.setattr(pair, "build_preprocess_model", cached)
