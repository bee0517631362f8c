"""`bert-tf-export --precision=bfloat16` on a tiny random checkpoint.

The bfloat16 export must keep the float32 export's interface exactly (the
same endpoints, signatures, names, dtypes and shapes; float32 variables and
outputs), compute in bfloat16, stay within its quality gate of the float32
model and of the PyTorch reference, fine-tune through `hub.KerasLayer`, and
record what it measured in the metadata and the model card.
"""

from __future__ import annotations

import json
import os
import warnings

import checkpoint_factory
import numpy as np
import pytest
import tensorflow as tf

import bert_tf.cli.export as export_cli
from bert_tf import interface
from bert_tf import precision as precisions
from bert_tf.export import model_card, verify

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import tensorflow_hub as hub


def _spec(nest):
    """A signature's structure as comparable (name, dtype, shape) tuples."""

    def describe(spec):
        if not isinstance(spec, tf.TensorSpec):
            return spec  # A Python argument (training=True / False).
        return (spec.name, spec.dtype.name, tuple(spec.shape.as_list()))

    return tf.nest.map_structure(describe, nest)


def _endpoints(encoder):
    """Every traced endpoint of a loaded encoder: name -> (inputs, outputs) specs."""
    found = {}
    for name, fn in encoder.signatures.items():
        found[f"signature:{name}"] = (
            _spec(fn.structured_input_signature),
            _spec(fn.structured_outputs),
        )
    for owner, prefix in ((encoder, ""), (encoder.mlm, "mlm.")):
        for concrete in owner.__call__.concrete_functions:
            key = f"{prefix}__call__{concrete.structured_input_signature[1]}"
            found[key] = (
                _spec(concrete.structured_input_signature),
                _spec(concrete.structured_outputs),
            )
    return found


def test_interface_is_the_float32_exports(tiny_exports):
    float32 = tf.saved_model.load(os.fspath(tiny_exports["float32"] / "encoder"))
    bfloat16 = tf.saved_model.load(os.fspath(tiny_exports["bfloat16"] / "encoder"))
    assert set(float32.signatures) == {interface.SERVING_SIGNATURE, interface.TOKENS_SIGNATURE}
    assert _endpoints(bfloat16) == _endpoints(float32)
    # The same variables, all float32: what hub.KerasLayer fine-tunes and checkpoints hold.
    for attribute in ("variables", "trainable_variables"):
        names32 = [(v.name, tuple(v.shape)) for v in getattr(float32, attribute)]
        names16 = [(v.name, tuple(v.shape)) for v in getattr(bfloat16, attribute)]
        assert names16 == names32, attribute
    assert {v.dtype for v in bfloat16.variables} == {tf.float32}
    assert {v.dtype for v in bfloat16.mlm.variables} == {tf.float32}
    interface.check_export_dir(tiny_exports["bfloat16"])


def _op_dtypes(concrete) -> set[str]:
    """Every dtype attribute `T` of the ops in a function and the functions it calls."""
    graphs = [concrete.graph.as_graph_def()]
    found = set()
    for graph_def in graphs:
        nodes = list(graph_def.node)
        for function in graph_def.library.function:
            nodes += list(function.node_def)
        for node in nodes:
            if node.op in ("MatMul", "BatchMatMulV2", "Einsum") and "T" in node.attr:
                found.add(tf.dtypes.as_dtype(node.attr["T"].type).name)
    return found


def test_matmuls_run_in_bfloat16(tiny_exports):
    float32 = tf.saved_model.load(os.fspath(tiny_exports["float32"] / "encoder"))
    bfloat16 = tf.saved_model.load(os.fspath(tiny_exports["bfloat16"] / "encoder"))
    assert _op_dtypes(bfloat16.signatures["serving_default"]) == {"bfloat16"}
    assert _op_dtypes(float32.signatures["serving_default"]) == {"float32"}


def test_outputs_float32_and_within_the_gate_of_pytorch(tiny_exports, tiny_checkpoint, tiny_config):
    """Against the PyTorch float32 reference: not equal (it is bfloat16), within the gate."""
    encoder = tf.saved_model.load(os.fspath(tiny_exports["bfloat16"] / "encoder"))
    inputs = checkpoint_factory.sample_inputs(tiny_config, batch=3, seq_length=17, seed=5)
    positions = np.array([[1, 2, 4]] * 3, np.int32)
    expected = checkpoint_factory.reference_outputs(
        tiny_checkpoint.reference, inputs, masked_lm_positions=positions
    )
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    found = encoder(tensors, training=False)
    served = encoder.signatures["serving_default"](**tensors)
    found_mlm = encoder.mlm({**tensors, "masked_lm_positions": tf.constant(positions)})
    gate = verify.host_gate("bfloat16")
    pairs = [
        ("sequence_output", found["sequence_output"], expected["sequence_output"]),
        ("pooled_output", found["pooled_output"], expected["pooled_output"]),
        ("serving sequence_output", served["sequence_output"], expected["sequence_output"]),
        ("mlm_logits", found_mlm["mlm_logits"], expected["mlm_logits"]),
    ] + [
        (f"encoder_outputs[{i}]", got, want)
        for i, (got, want) in enumerate(zip(found["encoder_outputs"], expected["encoder_outputs"]))
    ]
    for name, got, want in pairs:
        assert got.dtype == tf.float32, name
        diff = float(np.max(np.abs(got.numpy() - want)))
        assert 0 < diff <= verify.tolerance(want, "bfloat16"), (name, diff)
    for key in interface.flat_outputs(found):
        assert served[key].dtype == tf.float32, key
    cosines = verify.cosine(
        verify.mean_pooled(found["sequence_output"].numpy(), inputs["input_mask"]),
        verify.mean_pooled(expected["sequence_output"], inputs["input_mask"]),
    )
    assert np.min(cosines) >= gate.min_cosine, cosines


def test_metadata_and_model_card(tiny_exports):
    meta = interface.read_metadata(tiny_exports["bfloat16"])
    ver = meta.verification
    assert meta.precision == ver.precision == "bfloat16"
    # bfloat16 on CPU runs faster without XLA: the serving signatures are not compiled.
    assert meta.serving_jit_compile is False
    gate = verify.host_gate("bfloat16")
    assert ver.cosine_gate == gate.min_cosine and ver.relative_tolerance == gate.relative_tolerance
    assert ver.cosine_gate <= ver.min_cosine < 1.0
    assert ver.bfloat16_rounding == precisions.host_bfloat16_matmul_rounding()
    if ver.bfloat16_rounding == "toward_zero":
        assert gate is verify.TOWARD_ZERO_BFLOAT16_GATE
        assert ver.xla_cosine_gate == verify.GATES["bfloat16"].min_cosine <= ver.xla_min_cosine
    else:
        assert gate is verify.GATES["bfloat16"] and ver.xla_min_cosine is None
    assert set(ver.max_abs_diff) == {"__call__", "serving_default", "tokens", "mlm"}
    # max_abs_output is the largest encoder output: no encoder endpoint may exceed its bound.
    bound = ver.relative_tolerance * max(1.0, ver.max_abs_output)
    for endpoint in ("__call__", "serving_default", "tokens"):
        assert 0 < ver.max_abs_diff[endpoint] <= bound, endpoint
    assert ver.max_abs_diff["mlm"] > 0  # Its own bound, on the logits' scale, held at export.
    card = (tiny_exports["bfloat16"] / "README.md").read_text()
    assert "Precision: bfloat16." in card
    assert f"cosine >= {ver.cosine_gate}" in card and f"{ver.min_cosine:.6f}" in card
    assert ("rounds bfloat16 results toward zero" in card) == (ver.xla_min_cosine is not None)
    meta32 = interface.read_metadata(tiny_exports["float32"])
    assert meta32.precision == "float32" and meta32.serving_jit_compile is True
    assert meta32.verification.min_cosine > 0.99999
    assert meta32.verification.bfloat16_rounding is None
    assert max(meta32.verification.max_abs_diff.values()) < 1e-4


def test_metadata_written_before_precision_reads_as_float32(tiny_exports, tmp_path):
    data = json.loads(interface.ExportLayout(tiny_exports["float32"]).metadata_file.read_text())
    del data["precision"]
    for key in ("precision", "relative_tolerance", "min_cosine", "cosine_gate"):
        del data["verification"][key]
    old = tmp_path / "old"
    interface.ExportLayout(old).metadata_file.parent.mkdir(parents=True)
    interface.ExportLayout(old).metadata_file.write_text(json.dumps(data))
    meta = interface.read_metadata(old)
    assert meta.precision == "float32" and meta.verification.precision == "float32"
    assert meta.verification.min_cosine is None
    card = model_card.render_model_card(meta, old)
    assert "Precision:" not in card and "## Verification at export" in card


def test_hub_keras_layer_fine_tunes_in_float32(tiny_exports, tiny_config):
    """One SGD step through the bfloat16 encoder: float32 gradients reach every weight."""
    layer = hub.KerasLayer(os.fspath(tiny_exports["bfloat16"] / "encoder"), trainable=True)
    inputs = {
        k: tf.constant(v)
        for k, v in checkpoint_factory.sample_inputs(tiny_config, batch=2, seq_length=9).items()
    }
    with tf.GradientTape() as tape:
        out = layer(inputs, training=True)
        loss = tf.reduce_sum(out["pooled_output"] ** 2) + tf.reduce_mean(out["sequence_output"])
    variables = layer.trainable_variables
    grads = tape.gradient(loss, variables)
    assert variables and all(v.dtype == tf.float32 for v in variables)
    missing = [v.name for v, g in zip(variables, grads) if g is None]
    assert not missing, missing
    grads = [tf.convert_to_tensor(g) for g in grads]
    assert all(g.dtype == tf.float32 and np.all(np.isfinite(g.numpy())) for g in grads)
    before = [v.numpy().copy() for v in variables]
    tf.keras.optimizers.SGD(1e-2).apply_gradients(zip(grads, variables))
    moved = sum(not np.array_equal(b, v.numpy()) for b, v in zip(before, variables))
    assert moved == len(variables)


def test_cli_rejects_an_unknown_precision(tmp_path, tiny_checkpoint, capsys):
    status = export_cli.COMMAND(
        [
            "bert-tf-export",
            f"--checkpoint={tiny_checkpoint.folder}",
            f"--output_dir={tmp_path / 'out'}",
            "--precision=float16",
        ]
    )
    assert status == 1
    assert "precision" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_help_names_the_precisions():
    text = " ".join(export_cli.COMMAND.help_text().split())  # Unwrapped.
    assert "--precision" in text and "One of: float32, bfloat16." in text
    assert "Default: 'float32'." in text


def test_host_rounding_probe_matches_a_large_matmul():
    """The probe's answer is how a [256, 384] x [384, 384] bfloat16 MatMul rounds."""
    rng = np.random.default_rng(0)
    a, b = (tf.cast(rng.normal(size=shape), tf.bfloat16) for shape in ((256, 384), (384, 384)))
    exact = tf.matmul(tf.cast(a, tf.float32), tf.cast(b, tf.float32)).numpy()
    found = tf.cast(tf.matmul(a, b), tf.float32).numpy()
    nearest = tf.cast(tf.cast(exact, tf.bfloat16), tf.float32).numpy()
    truncated = (exact.view(np.int32) & np.int32(-65536)).view(np.float32)
    rounding = precisions.host_bfloat16_matmul_rounding()
    # Float32 accumulation order may differ in the last bit: compare the bulk.
    assert np.mean(found == (nearest if rounding == "nearest" else truncated)) > 0.99
    assert np.mean(nearest != truncated) > 0.3  # The two roundings do differ here.


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_gate_catches_a_wrong_encoder(precision):
    """The cosine and tolerance of each gate reject a shuffled-token sequence_output."""
    rng = np.random.default_rng(0)
    want = rng.normal(size=(4, 6, 16)).astype(np.float32)
    mask = np.ones((4, 6), np.int32)
    wrong = want[:, ::-1] * 0.5 + rng.normal(size=want.shape).astype(np.float32)
    assert np.max(np.abs(wrong - want)) > verify.tolerance(want, precision)
    cos = verify.cosine(verify.mean_pooled(wrong, mask), verify.mean_pooled(want, mask))
    assert np.min(cos) < verify.GATES[precision].min_cosine
    assert np.min(cos) < verify.TOWARD_ZERO_BFLOAT16_GATE.min_cosine
