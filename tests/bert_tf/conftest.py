"""Fixtures for the bert_tf tests: tiny checkpoints in every source format, written once."""

import pathlib

import checkpoint_factory as factory
import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_config_dict():
    return factory.tiny_config()


@pytest.fixture(scope="session")
def tiny_inputs(tiny_config_dict):
    """Batch of 3 with padding and two segments."""
    return factory.sample_inputs(tiny_config_dict, batch=3, seq_length=11, seed=0)


@pytest.fixture(scope="session")
def masked_positions():
    return np.array([[1, 2, 4], [0, 3, 5], [2, 2, 1]], np.int32)


@pytest.fixture(scope="session")
def checkpoints_root(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("bert_tf_checkpoints")


@pytest.fixture(scope="session")
def google_checkpoint(checkpoints_root, tiny_config_dict):
    return factory.write_google_checkpoint(checkpoints_root / "google", tiny_config_dict, seed=1)


@pytest.fixture(scope="session")
def hf_checkpoint(checkpoints_root, tiny_config_dict):
    return factory.write_hf_checkpoint(checkpoints_root / "hf", tiny_config_dict, seed=2)
