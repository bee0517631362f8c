"""Bad input to the Keras 3 layers: one-line errors that name the problem."""

import os

import pytest
import tensorflow as tf

from bert_tf.interface import ExportDirError


def _one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


def test_folder_that_is_not_an_export(keras3, tmp_path):
    from bert_tf.keras3 import EncoderLayer, PreprocessLayer

    (tmp_path / "notes.txt").write_text("not a model")
    for layer in (EncoderLayer, PreprocessLayer):
        with pytest.raises(ExportDirError) as error:
            layer(tmp_path)
        assert f"{tmp_path}: not a bert-tf export" in _one_line(error)
    with pytest.raises(ExportDirError) as error:
        EncoderLayer(tmp_path / "missing")
    assert "no such folder" in _one_line(error)


def test_wrong_part(keras3, tiny_export):
    from bert_tf.keras3 import EncoderLayer, PreprocessLayer

    with pytest.raises(ExportDirError) as error:
        EncoderLayer(tiny_export / "preprocess")
    message = _one_line(error)
    assert "a preprocess/ SavedModel, expected the export's encoder/" in message
    with pytest.raises(ExportDirError) as error:
        PreprocessLayer(tiny_export / "encoder")
    assert "not a preprocess/ SavedModel" in _one_line(error)
    # The export folder itself names both parts.
    assert EncoderLayer(tiny_export).folder == tiny_export / "encoder"


def test_four_segments(keras3, tiny_export):
    from bert_tf.keras3 import PreprocessLayer

    layer = PreprocessLayer(tiny_export / "preprocess", seq_length=16)
    strings = tf.constant(["a", "b"])
    with pytest.raises(ExportDirError) as error:
        layer([strings] * 4)
    assert "bert_pack_inputs is exported for 1, 2, 3 segments, found 4" in _one_line(error)
    symbolic = keras3.Input(shape=(), dtype="string")
    with pytest.raises(ExportDirError):
        layer([symbolic] * 4)


def test_seq_length_over_max_position_embeddings(keras3, tiny_export):
    from bert_tf.keras3 import EncoderLayer, LayerArgumentError, PreprocessLayer

    with pytest.raises(LayerArgumentError) as error:
        PreprocessLayer(tiny_export / "preprocess", seq_length=65)
    assert "expected at most max_position_embeddings=64" in _one_line(error)
    assert "found 65" in str(error.value)
    with pytest.raises(LayerArgumentError) as error:
        PreprocessLayer(tiny_export / "preprocess", seq_length=1)
    assert "seq_length: expected an int >= 2" in _one_line(error)
    encoder = EncoderLayer(tiny_export / "encoder")
    ids = tf.ones([2, 65], tf.int32)
    with pytest.raises(LayerArgumentError) as error:
        encoder({"input_word_ids": ids, "input_mask": ids, "input_type_ids": 0 * ids})
    assert "max_position_embeddings=64" in _one_line(error)


def test_bad_encoder_arguments(keras3, tiny_export):
    from bert_tf.keras3 import EncoderLayer, LayerArgumentError

    with pytest.raises(LayerArgumentError) as error:
        EncoderLayer(tiny_export / "encoder", endpoint="nsp")
    assert "endpoint: expected None or 'mlm', found 'nsp'" in _one_line(error)
    with pytest.raises(LayerArgumentError) as error:
        EncoderLayer(tiny_export / "encoder", dtype="mixed_bfloat16")
    assert "the export computes in float32" in _one_line(error)
    encoder = EncoderLayer(os.fspath(tiny_export / "encoder"))
    with pytest.raises(LayerArgumentError) as error:
        encoder({"input_word_ids": tf.ones([1, 4], tf.int32)})
    assert "missing input_mask, input_type_ids" in _one_line(error)
