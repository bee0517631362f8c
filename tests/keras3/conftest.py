"""Fixtures of the Keras 3 layer tests: one tiny random export with the MLM head, pair data.

These tests run in a Keras 3 process: `import keras` must be Keras 3
(`TF_USE_LEGACY_KERAS` unset). The Keras 2 side (`hub.KerasLayer`) imports
`tf_keras` explicitly, so both live in one process.
"""

import os
import pathlib

import pytest

if os.environ.get("TF_USE_LEGACY_KERAS", "0") not in ("", "0"):
    raise RuntimeError("tests/keras3 need Keras 3: unset TF_USE_LEGACY_KERAS")


@pytest.fixture(scope="session")
def keras3():
    import keras

    assert keras.version().startswith("3."), keras.version()
    return keras


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> pathlib.Path:
    """A tiny random BERT (3 token types) exported with its masked-LM head."""
    import checkpoint_factory  # tests/, on sys.path through tests/conftest.py

    from bert_tf.export import pair

    folder = tmp_path_factory.mktemp("keras3_tiny")
    written = checkpoint_factory.write_hf_checkpoint(
        folder / "checkpoint", checkpoint_factory.tiny_config(type_vocab_size=3), seed=7
    )
    out = folder / "export"
    pair.export_pair(str(written.folder), str(out), default_seq_length=32, with_mlm=True)
    return out
