"""The encoder's interface and behaviour: dict I/O, dynamic shapes, dropout, XLA, precision."""

import inspect

import checkpoint_factory as factory
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from bert_tf import (
    BertConfig,
    build_encoder,
    build_mlm_model,
    build_nsp_model,
    heads,
    layers,
    load_checkpoint,
)
from bert_tf.encoder import BertEncoder

CONFIG = BertConfig(
    vocab_size=len(factory.BASE_VOCAB),
    hidden_size=32,
    num_layers=3,
    num_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
)


@pytest.fixture(scope="module")
def loaded_encoder(google_checkpoint):
    """An encoder with the tiny google checkpoint's (non-trivial) weights."""
    config = BertConfig.from_file(google_checkpoint.folder / "bert_config.json")
    encoder = build_encoder(config)
    mlm_model = build_mlm_model(encoder, config)
    load_checkpoint(google_checkpoint.folder, encoder, mlm_model=mlm_model)
    return encoder, mlm_model


def inputs_for(config_dict, batch, seq_length, seed=0):
    return factory.sample_inputs(config_dict, batch=batch, seq_length=seq_length, seed=seed)


def test_dict_interface_and_shapes():
    encoder = build_encoder(CONFIG)
    assert sorted(encoder.input) == ["input_mask", "input_type_ids", "input_word_ids"]
    for spec in encoder.input.values():
        assert spec.shape.as_list() == [None, None] and spec.dtype == tf.int32
    for batch, seq in [(1, 5), (4, 17)]:  # One model, any batch and length.
        out = encoder(inputs_for({"vocab_size": CONFIG.vocab_size}, batch, seq))
        assert sorted(out) == ["default", "encoder_outputs", "pooled_output", "sequence_output"]
        assert out["pooled_output"].shape == out["default"].shape == (batch, 32)
        assert len(out["encoder_outputs"]) == 3
        for t in out["encoder_outputs"] + [out["sequence_output"]]:
            assert t.shape == (batch, seq, 32) and t.dtype == tf.float32


def test_layer_names_are_stable():
    encoder = build_encoder(CONFIG)
    names = [layer.name for layer in encoder.layers]
    assert names[3:] == [
        "embeddings",
        "attention_mask",
        "transformer/layer_0",
        "transformer/layer_1",
        "transformer/layer_2",
        "pooler",
    ]
    variable_names = {v.name for v in encoder.weights}
    assert "transformer/layer_1/query/kernel:0" in variable_names
    assert "embeddings/word_embeddings:0" in variable_names
    assert "pooler/dense/kernel:0" in variable_names
    assert len(variable_names) == len(encoder.weights)
    # No Lambda / TFOpLambda layers anywhere.
    assert not [
        layer
        for layer in encoder.submodules
        if isinstance(layer, tf_keras.layers.Layer) and "Lambda" in type(layer).__name__
    ]


def test_get_config_round_trip():
    encoder = build_encoder(CONFIG, name="my_encoder")
    clone = BertEncoder.from_config(encoder.get_config())
    assert clone.config == CONFIG and clone.name == "my_encoder"
    block = encoder.transformer_layers[0]
    rebuilt = layers.TransformerBlock.from_config(block.get_config())
    assert rebuilt.get_config() == block.get_config()
    emb = layers.BertEmbeddings.from_config(encoder.embeddings.get_config())
    assert emb.get_config() == encoder.embeddings.get_config()
    pooler = layers.BertPooler.from_config(encoder.pooler.get_config())
    assert pooler.get_config() == encoder.pooler.get_config()


def test_padding_does_not_change_real_positions(loaded_encoder, tiny_config_dict):
    encoder, _ = loaded_encoder
    short = inputs_for(tiny_config_dict, 2, 9)
    short["input_mask"][:] = 1  # Both rows fully real at length 9.
    padded = {k: np.pad(v, [(0, 0), (0, 6)]) for k, v in short.items()}
    padded["input_word_ids"][:, 9:] = 7  # Garbage under the padding must not matter.
    a, b = encoder(short), encoder(padded)
    np.testing.assert_allclose(b["sequence_output"][:, :9], a["sequence_output"], atol=1e-5)
    np.testing.assert_allclose(b["pooled_output"], a["pooled_output"], atol=1e-5)


def test_dropout_only_when_training(loaded_encoder, tiny_inputs):
    encoder, _ = loaded_encoder
    first = encoder(tiny_inputs, training=False)["sequence_output"]
    np.testing.assert_array_equal(first, encoder(tiny_inputs)["sequence_output"])
    trained = encoder(tiny_inputs, training=True)["sequence_output"]
    assert np.max(np.abs(trained - first)) > 1e-2


def test_xla_equals_eager(loaded_encoder, tiny_inputs, masked_positions):
    _, mlm_model = loaded_encoder
    inputs = dict(tiny_inputs, masked_lm_positions=masked_positions)
    compiled = tf.function(mlm_model, jit_compile=True)
    eager = mlm_model(inputs)
    xla = compiled(inputs)
    diffs = factory.max_abs_diffs(xla, eager)
    assert len(diffs) == len(eager["encoder_outputs"]) + 4 and max(diffs.values()) <= 1e-5, diffs
    # Compiles again for another shape (both dimensions dynamic).
    other = {k: v[:2, :7] for k, v in tiny_inputs.items()}
    assert compiled(dict(other, masked_lm_positions=masked_positions[:2]))["mlm_logits"].shape == (
        2,
        3,
        len(factory.BASE_VOCAB),
    )


def test_sequence_over_max_positions_names_the_limit(loaded_encoder, tiny_config_dict):
    encoder, _ = loaded_encoder
    limit = tiny_config_dict["max_position_embeddings"]
    encoder(inputs_for(tiny_config_dict, batch=1, seq_length=limit))  # at the limit: fine
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=rf"seq_length is over max_position_embeddings \({limit}\)",
    ):
        encoder(inputs_for(tiny_config_dict, batch=1, seq_length=limit + 1))


def test_mlm_head_is_tied_to_word_embeddings(loaded_encoder):
    encoder, mlm_model = loaded_encoder
    head = mlm_model.get_layer("mlm")
    assert head.embedding_layer.word_embeddings is encoder.embeddings.word_embeddings
    encoder_ids = {id(v) for v in encoder.weights}
    head_only = [v.name for v in mlm_model.weights if id(v) not in encoder_ids]
    assert sorted(head_only) == [
        "mlm/layer_norm/beta:0",
        "mlm/layer_norm/gamma:0",
        "mlm/output_bias:0",
        "mlm/transform/bias:0",
        "mlm/transform/kernel:0",
    ]


def test_nsp_model_outputs(loaded_encoder, tiny_inputs):
    encoder, _ = loaded_encoder
    out = build_nsp_model(encoder, encoder.config)(tiny_inputs)
    assert out["nsp_logits"].shape == (3, 2) and out["nsp_logits"].dtype == tf.float32
    np.testing.assert_array_equal(out["pooled_output"], encoder(tiny_inputs)["pooled_output"])


# Tolerances for reduced precision, relative to the largest float32 activation. Each
# rounding to bfloat16 (8-bit mantissa) errs by up to 2**-9 = 0.2% relative, float16
# (11-bit) by 2**-12 = 0.024%; a few dozen roundings in series through LayerNorms
# that rescale to unit variance leave errors of a few percent / a few tenths of a
# percent of the activation scale. A mis-cast weight or a half-precision softmax
# overflow would be off by far more (order 100%).
PRECISION_RTOL = {"mixed_bfloat16": 0.05, "mixed_float16": 0.01}


@pytest.mark.parametrize("policy", sorted(PRECISION_RTOL))
def test_mixed_precision(loaded_encoder, tiny_inputs, masked_positions, policy):
    encoder32, mlm32 = loaded_encoder
    previous = tf_keras.mixed_precision.global_policy()
    tf_keras.mixed_precision.set_global_policy(policy)
    try:
        encoder = build_encoder(encoder32.config)
        mlm_model = build_mlm_model(encoder, encoder32.config)
    finally:
        tf_keras.mixed_precision.set_global_policy(previous)
    assert encoder.transformer_layers[0].compute_dtype == policy.split("_")[1]
    assert all(v.dtype == tf.float32 for v in mlm_model.weights)
    mlm_model.set_weights(mlm32.get_weights())
    inputs = dict(tiny_inputs, masked_lm_positions=masked_positions)
    ours, reference = mlm_model(inputs), mlm32(inputs)
    for key in ("pooled_output", "sequence_output", "default", "mlm_logits"):
        assert ours[key].dtype == tf.float32, key
    assert all(t.dtype == tf.float32 for t in ours["encoder_outputs"])
    for name, diff in factory.max_abs_diffs(ours, reference).items():
        key = name.split("/")[0]
        value = reference[key]
        scale = np.max(np.abs(value[int(name.split("/")[1])] if "/" in name else value))
        assert diff <= PRECISION_RTOL[policy] * scale, (name, diff, scale)
        assert diff > 0  # It did compute in reduced precision.


@pytest.mark.parametrize(
    "cls, shared",
    [
        (layers.BertEmbeddings, set()),
        (layers.TransformerBlock, set()),
        (layers.BertPooler, set()),
        (layers.AttentionMask, set()),
        (heads.MaskedLMHead, {"embedding_layer"}),  # A shared layer, passed again to rebuild.
    ],
)
def test_get_config_mirrors_init(cls, shared):
    own = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"} - shared
    base = set(tf_keras.layers.Layer().get_config())
    encoder = build_encoder(CONFIG)
    instance = {
        layers.BertEmbeddings: encoder.embeddings,
        layers.TransformerBlock: encoder.transformer_layers[0],
        layers.BertPooler: encoder.pooler,
        layers.AttentionMask: encoder.get_layer("attention_mask"),
        heads.MaskedLMHead: build_mlm_model(encoder, CONFIG).get_layer("mlm"),
    }[cls]
    assert set(instance.get_config()) - base == own


@pytest.mark.parametrize("shape", [(3, 5, 8), (7, 8)])
@pytest.mark.parametrize(
    "policy,tolerance",
    [
        ("float32", 1e-5),
        ("float64", 1e-12),
        ("mixed_float16", 1e-2),
        ("mixed_bfloat16", 5e-2),
        ("float16", 1e-2),
    ],
)
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False)])
def test_layer_norm_matches_keras_and_round_trips(shape, policy, tolerance, center, scale):
    """`layers.LayerNorm` (the fusable spelling) = Keras' `LayerNormalization`."""
    tf_keras.mixed_precision.set_global_policy(policy)
    try:
        ours = layers.LayerNorm(epsilon=1e-6, center=center, scale=scale)
        keras = tf_keras.layers.LayerNormalization(epsilon=1e-6, center=center, scale=scale)
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
    x = tf.random.stateless_normal(shape, seed=[1, 2]) * 3.0 + 1.0
    for layer in (ours, keras):
        layer.build(shape)
        for weight, seed in ((layer.gamma, [3, 4]), (layer.beta, [5, 6])):
            if weight is not None:
                weight.assign(
                    tf.cast(tf.random.stateless_normal(shape[-1:], seed=seed), weight.dtype)
                )
    got, want = ours(x), keras(x)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(
        np.asarray(got, np.float64), np.asarray(want, np.float64), atol=tolerance
    )
    clone = layers.LayerNorm.from_config(ours.get_config())
    assert clone.get_config() == ours.get_config()
    with pytest.raises(ValueError, match="last axis only"):
        layers.LayerNorm(axis=1)
