"""Fixtures of the fine-tuning tests: generated NLI files, a tiny random export, CLI runs."""

import pathlib

import nli_synth
import pytest


@pytest.fixture(scope="session")
def nli_files(tmp_path_factory):
    """Generated train (480) / eval (120) sets as plain TSV: `(train_path, eval_path)`."""
    folder = tmp_path_factory.mktemp("nli")
    train = nli_synth.write_tsv(folder / "train.tsv", nli_synth.generate(480, seed=0))
    evaluation = nli_synth.write_tsv(folder / "eval.tsv", nli_synth.generate(120, seed=1))
    return train, evaluation


@pytest.fixture(scope="session")
def tiny_export_dir(tmp_path_factory) -> pathlib.Path:
    """A tiny random BERT (3 token types, for three-segment inputs) exported by `export_pair`."""
    import checkpoint_factory  # tests/, on sys.path through tests/conftest.py

    from bert_tf.export import pair

    folder = tmp_path_factory.mktemp("tiny_bert")
    written = checkpoint_factory.write_hf_checkpoint(
        folder / "checkpoint", checkpoint_factory.tiny_config(type_vocab_size=3), seed=3
    )
    out = folder / "export"
    pair.export_pair(str(written.folder), str(out), default_seq_length=64)
    return out
