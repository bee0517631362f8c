"""The preprocess SavedModel through every way users load it."""

from __future__ import annotations

import shutil

import numpy as np
import preprocess_reference as reference
import pytest
import tensorflow as tf
from helpers import per_row_ids

from bert_tf.preprocess import load_vocab

TEXTS = ["The quick brown fox.", "Ünïcödé ΣΟΦΙΑ 中文 emoji 😀!", ""]
PAIRS = ["A man is playing.", "Zwei Männer spielen Fußball im Regen."]


@pytest.fixture(scope="module")
def preprocessor(saved_preprocess_dir):
    import tensorflow_hub as hub

    return hub.load(str(saved_preprocess_dir))


@pytest.fixture(scope="module")
def ref(uncased_vocab_file):
    return reference.ReferenceTokenizer(load_vocab(uncased_vocab_file), True)


def expected_pack(ref, segments, seq_length):
    """[CLS] a [SEP] b [SEP] from the reference ids (no truncation needed)."""
    ids, types = [101], [0]
    for i, text in enumerate(segments):
        ids += ref(text) + [102]
        types += [i] * (len(ref(text)) + 1)
    n = len(ids)
    return (
        ids + [0] * (seq_length - n),
        [1] * n + [0] * (seq_length - n),
        types + [0] * (seq_length - n),
    )


def assert_packed(out, ref, rows, seq_length):
    for b, segments in enumerate(rows):
        ids, mask, types = expected_pack(ref, segments, seq_length)
        np.testing.assert_array_equal(out["input_word_ids"][b], ids)
        np.testing.assert_array_equal(out["input_mask"][b], mask)
        np.testing.assert_array_equal(out["input_type_ids"][b], types)


def test_saved_model_layout(saved_preprocess_dir, uncased_vocab_file):
    asset = saved_preprocess_dir / "assets" / "vocab.txt"
    assert asset.read_bytes() == uncased_vocab_file.read_bytes()


def test_call_tokenize_and_special_tokens(preprocessor, ref):
    out = preprocessor(tf.constant(TEXTS))
    assert out["input_word_ids"].shape == (3, 128)
    assert_packed(out, ref, [[t] for t in TEXTS], 128)
    tokens = preprocessor.tokenize(tf.constant(TEXTS))
    assert tokens.dtype == tf.int32 and tokens.ragged_rank == 2
    assert per_row_ids(tokens) == [ref(t) for t in TEXTS]
    special = {k: int(v) for k, v in preprocessor.tokenize.get_special_tokens_dict().items()}
    assert special == dict(
        vocab_size=30522, start_of_sequence_id=101, end_of_segment_id=102, padding_id=0, mask_id=103
    )
    tokens, starts, limits = preprocessor.tokenize_with_offsets(tf.constant(["Hello world"]))
    assert tokens.to_list() == [[[7592], [2088]]]
    assert starts.to_list() == [[[0], [6]]] and limits.to_list() == [[[5], [11]]]


def test_hub_keras_layer_pairs(preprocessor, ref):
    """The docs/interface.md snippet, up to the encoder."""
    import tensorflow_hub as hub
    import tf_keras

    tokenize = hub.KerasLayer(preprocessor.tokenize)
    bert_pack_inputs = hub.KerasLayer(preprocessor.bert_pack_inputs, arguments=dict(seq_length=64))
    premise = tf_keras.layers.Input(shape=(), dtype=tf.string)
    hypothesis = tf_keras.layers.Input(shape=(), dtype=tf.string)
    packed = bert_pack_inputs([tokenize(premise), tokenize(hypothesis)])
    model = tf_keras.Model([premise, hypothesis], packed)
    out = model([tf.constant(PAIRS), tf.constant(PAIRS[::-1])])
    assert out["input_word_ids"].shape == (2, 64)
    assert_packed(out, ref, list(zip(PAIRS, PAIRS[::-1])), 64)


def test_hub_keras_layer_single_sentence(saved_preprocess_dir, ref):
    """`hub.KerasLayer(PREPROCESS_DIR)` on a string input: the default call."""
    import tensorflow_hub as hub
    import tf_keras

    text = tf_keras.layers.Input(shape=(), dtype=tf.string)
    packed = hub.KerasLayer(str(saved_preprocess_dir))(text)
    out = tf_keras.Model(text, packed)(tf.constant(TEXTS))
    assert out["input_word_ids"].shape == (3, 128)
    assert_packed(out, ref, [[t] for t in TEXTS], 128)


@pytest.mark.parametrize("num_segments", [1, 2, 3])
def test_bert_pack_inputs_segments(preprocessor, ref, num_segments):
    segments = [preprocessor.tokenize(tf.constant([PAIRS[i % 2]])) for i in range(num_segments)]
    out = preprocessor.bert_pack_inputs(segments, seq_length=48)
    assert_packed(out, ref, [[PAIRS[i % 2] for i in range(num_segments)]], 48)
    default = preprocessor.bert_pack_inputs(segments)
    assert default["input_word_ids"].shape == (1, 128)


def test_serving_signature_and_keras3(saved_preprocess_dir, preprocessor, ref):
    import keras

    signature = preprocessor.signatures["serving_default"]
    out = signature(text=tf.constant(TEXTS))
    assert sorted(out) == ["input_mask", "input_type_ids", "input_word_ids"]
    assert all(v.dtype == tf.int32 for v in out.values())
    assert_packed(out, ref, [[t] for t in TEXTS], 128)
    layer = keras.layers.TFSMLayer(str(saved_preprocess_dir), call_endpoint="serving_default")
    out3 = layer(tf.constant(TEXTS))
    for key in out:
        np.testing.assert_array_equal(out3[key], out[key])


def test_tf_data_map(preprocessor, ref):
    ds = tf.data.Dataset.from_tensor_slices(TEXTS * 3).batch(4).map(preprocessor)
    rows = [r for batch in ds for r in batch["input_word_ids"].numpy()]
    expected = [expected_pack(ref, [t], 128)[0] for t in TEXTS * 3]
    np.testing.assert_array_equal(rows, expected)
    ds = (
        tf.data.Dataset.from_tensor_slices(PAIRS)
        .batch(2)
        .map(lambda s: preprocessor.bert_pack_inputs([preprocessor.tokenize(s)], seq_length=16))
    )
    assert next(iter(ds))["input_word_ids"].shape == (2, 16)


def test_save_load_save_with_first_copy_deleted(
    tmp_path, saved_preprocess_dir, uncased_vocab_file, ref
):
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(saved_preprocess_dir, first)  # A copy we may delete.
    tf.saved_model.save(tf.saved_model.load(str(first)), str(second))
    shutil.rmtree(first)
    reloaded = tf.saved_model.load(str(second))
    assert (second / "assets" / "vocab.txt").read_bytes() == (uncased_vocab_file.read_bytes())
    assert str(second) in reloaded.tokenize.vocab_file.asset_path.numpy().decode()
    out = reloaded(tf.constant(PAIRS))
    assert_packed(out, ref, [[t] for t in PAIRS], 128)
    out = reloaded.bert_pack_inputs([reloaded.tokenize(tf.constant(PAIRS))] * 2, seq_length=40)
    assert_packed(out, ref, [[t, t] for t in PAIRS], 40)
    assert "serving_default" in reloaded.signatures


# Bad input: each gives a result (documented in docs/tokenizer.md).
def test_invalid_utf8_is_dropped(preprocessor, ref):
    out = preprocessor.tokenize(tf.constant([b"caf\xc3 \xff\xfeok\x80", b"\xff"]))
    assert per_row_ids(out) == [ref(b"caf\xc3 \xff\xfeok\x80"), []]


def test_empty_batch_and_empty_strings(preprocessor):
    out = preprocessor(tf.constant([], tf.string))
    assert out["input_word_ids"].shape == (0, 128)
    assert preprocessor.tokenize(tf.constant([], tf.string)).shape[0] == 0
    out = preprocessor(tf.constant(["", " \t\n"]))
    np.testing.assert_array_equal(out["input_word_ids"][:, :3], [[101, 102, 0], [101, 102, 0]])


def test_one_megabyte_strings(preprocessor, ref):
    words = ("lorem ipsum dolor sit amet " * 40000)[: 1 << 20]
    one_word = "x" * (1 << 20)
    out = preprocessor(tf.constant([words, one_word]))
    np.testing.assert_array_equal(out["input_word_ids"][0], [101] + ref(words[:800])[:126] + [102])
    np.testing.assert_array_equal(
        out["input_word_ids"][1, :4], [101, 100, 102, 0]
    )  # Over 200 chars: [UNK].
    tokens = preprocessor.tokenize(tf.constant([words]))
    assert tokens.bounding_shape()[1] == len(words.split())


def test_wrong_input_is_a_clear_error(preprocessor):
    with pytest.raises((ValueError, TypeError)):
        preprocessor(tf.constant([["a", "b"]]))
    with pytest.raises((ValueError, TypeError)):
        preprocessor(tf.constant([1, 2]))
