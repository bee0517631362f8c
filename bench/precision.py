"""Precision and runtimes: our float32 and bfloat16 exports against PyTorch and ONNX Runtime.

For each model and batch x length, in one process, interleaved (A B C ... A B
C ...), median of at least 7 rounds after warm-up, on the same random ids:

- `ours_fp32`: the float32 export's `encoder(inputs, training=False)`;
- `ours_fp32_serving`: its `serving_default` signature (XLA-compiled);
- `ours_bf16`: the `--precision=bfloat16` export's `encoder(...)`;
- `torch_fp32`: Hugging Face `BertModel` under `torch.inference_mode()`;
- `torch_bf16`: the same under `torch.autocast("cpu", dtype=torch.bfloat16)`;
- `ort_fp32`: ONNX Runtime on the model exported by `torch.onnx.export`;
- `ort_fused`: the same after `onnxruntime.transformers` BERT fusion;
- `ort_int8`: `onnxruntime.quantization.quantize_dynamic` of `ort_fp32`.

(ONNX Runtime contenders only when `onnxruntime` and `onnx` are installed.)
Every contender's `sequence_output` is compared with `torch_fp32`'s: the
smallest cosine of the mask-aware mean-pooled vectors over the batch and the
max abs difference relative to the output scale are reported next to its speed.
The machine is shared: only ratios measured in the same rounds are meaningful.

Run:
  .venv/bin/python -m bench.precision
  .venv/bin/python -m bench.precision --models=minilm --shapes=1x128,32x128
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import logging  # noqa: E402
import pathlib  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from bench import models  # noqa: E402

_MODELS = flags.DEFINE_list("models", ["minilm", "bert-base"], "Checkpoints to run.")
_SHAPES = flags.DEFINE_list(
    "shapes", ["1x32", "1x128", "8x128", "32x128", "8x512"], "batch x length pairs."
)
_BUDGET = flags.DEFINE_float("budget_s", 20.0, "Timing budget per shape, all contenders.")
_REPEATS = flags.DEFINE_integer("repeats", 7, "Interleaved rounds at least.")
_ORT = flags.DEFINE_bool("ort", True, "Include ONNX Runtime contenders when installed.")

CONTENDERS = (
    "ours_fp32",
    "ours_fp32_serving",
    "ours_bf16",
    "torch_fp32",
    "torch_bf16",
    "ort_fp32",
    "ort_fused",
    "ort_int8",
)
COLUMNS = [("model", "{}"), ("shape", "{}")] + [(f"{c}_seq_per_s", "{:.1f}") for c in CONTENDERS]
RATIOS = [
    ("ours_fp32_vs_ort_fp32", "ours_fp32", "ort_fp32"),
    ("ours_best_fp32_vs_ort_fp32", "ours_best_fp32", "ort_fp32"),
    ("ours_bf16_vs_torch_bf16", "ours_bf16", "torch_bf16"),
    ("ours_bf16_vs_ort_fp32", "ours_bf16", "ort_fp32"),
    ("ours_bf16_vs_ours_fp32", "ours_bf16", "ours_fp32"),
]
QUALITY_COLUMNS = [("model", "{}"), ("shape", "{}")] + [
    (f"{c}_min_cosine", "{:.6f}") for c in CONTENDERS
]


def _onnx_models(hf, shape: models.Shape, folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """`hf` exported to ONNX (plain, BERT-fused, dynamic int8); {} without onnxruntime."""
    try:
        import onnxruntime  # noqa: F401
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers import optimizer
    except ImportError:
        return {}
    import torch

    class Positional(torch.nn.Module):
        """`hf` with the three inputs by position (its `forward` takes more, by keyword)."""

        def __init__(self):
            super().__init__()
            self.hf = hf

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.hf(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state, out.pooler_output

    plain = folder / "model.onnx"
    ids = torch.ones((1, 8), dtype=torch.long)
    axes = {0: "batch", 1: "seq"}
    torch.onnx.export(
        Positional().eval(),
        (ids, ids, torch.zeros_like(ids)),
        plain,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state", "pooler_output"],
        dynamic_axes={
            "input_ids": axes,
            "attention_mask": axes,
            "token_type_ids": axes,
            "last_hidden_state": axes,
        },
        opset_version=17,
        dynamo=False,
    )
    fused = folder / "fused.onnx"
    optimizer.optimize_model(
        str(plain), model_type="bert", num_heads=shape.heads, hidden_size=shape.hidden
    ).save_model_to_file(str(fused))
    int8 = folder / "int8.onnx"
    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # The quantizer logs one line per tensor.
    try:
        quantize_dynamic(str(plain), str(int8), weight_type=QuantType.QInt8)
    finally:
        quiet.setLevel(level)
    return {"ort_fp32": plain, "ort_fused": fused, "ort_int8": int8}


def _ort_session(path: pathlib.Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # ONNX Runtime's threads spin-wait after each run by default, which takes
    # the cores from the next contender in the interleaved rounds.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _quality(found: np.ndarray, want: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    from bert_tf.export import verify

    cosines = verify.cosine(verify.mean_pooled(found, mask), verify.mean_pooled(want, mask))
    keep = mask.astype(bool)  # Padding positions are not compared (PyTorch leaves them unmasked).
    relative = float(np.max(np.abs(found[keep] - want[keep]))) / max(
        1.0, float(np.max(np.abs(want[keep])))
    )
    return float(np.min(cosines)), relative


def bench_model(name: str, shapes: list[tuple[int, int]], run: harness.Run) -> None:
    import tensorflow as tf
    import torch
    import transformers

    shape = models.shape_of(name)
    ours32 = tf.saved_model.load(str(models.export_dir(name, "float32") / "encoder"))
    ours16 = tf.saved_model.load(str(models.export_dir(name, "bfloat16") / "encoder"))
    serving32 = ours32.signatures["serving_default"]
    hf = transformers.BertModel.from_pretrained(str(models.checkpoint_path(name))).eval()
    onnx_dir = pathlib.Path(tempfile.mkdtemp(prefix="bench_precision_onnx_"))
    sessions = {}
    if _ORT.value:
        sessions = {k: _ort_session(p) for k, p in _onnx_models(hf, shape, onnx_dir).items()}

    for batch, seq in shapes:
        arrays = harness.encoder_inputs(batch, seq, shape.vocab, pad_first_row=True)
        tf_inputs = {k: tf.constant(v) for k, v in arrays.items()}
        pt_inputs = harness.torch_inputs(arrays)
        ort_inputs = {k: v.numpy() for k, v in pt_inputs.items()}

        def torch_fp32():
            with torch.inference_mode():
                return hf(**pt_inputs).last_hidden_state.numpy()

        def torch_bf16():
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
                return hf(**pt_inputs).last_hidden_state.float().numpy()

        fns = {
            "ours_fp32": lambda: ours32(tf_inputs, training=False)["sequence_output"].numpy(),
            "ours_fp32_serving": lambda: serving32(**tf_inputs)["sequence_output"].numpy(),
            "ours_bf16": lambda: ours16(tf_inputs, training=False)["sequence_output"].numpy(),
            "torch_fp32": torch_fp32,
            "torch_bf16": torch_bf16,
        }
        for key, session in sessions.items():
            fns[key] = lambda session=session: session.run(["last_hidden_state"], ort_inputs)[0]
        # Same weights, same ids: the outputs are compared before speed means anything.
        reference = torch_fp32()
        row = {"model": name, "shape": f"{batch}x{seq}", "batch": batch, "seq_length": seq}
        for key, fn in fns.items():
            row[f"{key}_min_cosine"], row[f"{key}_rel_max_abs_diff"] = _quality(
                fn(), reference, arrays["input_mask"]
            )
        timings = harness.measure_interleaved(fns, budget_s=_BUDGET.value, repeats=_REPEATS.value)
        for key, timing in timings.items():
            row[f"{key}_seq_per_s"] = timing.per_second(batch)
            row[f"{key}_timing"] = timing.to_dict()
        row["ours_best_fp32_seq_per_s"] = max(
            row["ours_fp32_seq_per_s"], row["ours_fp32_serving_seq_per_s"]
        )
        for ratio, a, b in RATIOS:
            if f"{a}_seq_per_s" in row and f"{b}_seq_per_s" in row:
                row[ratio] = row[f"{a}_seq_per_s"] / row[f"{b}_seq_per_s"]
        print(
            f"  {name} {batch}x{seq}: "
            + ", ".join(f"{k} {row[f'{k}_seq_per_s']:.1f}/s" for k in fns)
            + "; "
            + ", ".join(f"{r} {row[r]:.2f}x" for r, _, _ in RATIOS if r in row),
            flush=True,
        )
        run.add(row)


def _markdown(run: harness.Run) -> str:
    """The result as Markdown: speeds, the ratios to the goals, the quality figures."""
    lines = [
        "# Precision benchmark (sequences/s; interleaved, median of >= "
        f"{_REPEATS.value} rounds; shared 2-core machine: compare within a row)",
        "",
        harness.format_table(run.rows, COLUMNS),
        "",
        "Ratios (same rounds):",
        "",
        harness.format_table(
            run.rows, [("model", "{}"), ("shape", "{}")] + [(r, "{:.2f}x") for r, _, _ in RATIOS]
        ),
        "",
        "Quality vs PyTorch float32 (smallest mean-pooled cosine over the batch):",
        "",
        harness.format_table(run.rows, QUALITY_COLUMNS),
        "",
    ]
    return "\n".join(lines)


def main(argv) -> None:
    del argv
    run = harness.Run("precision")
    shapes = [tuple(int(x) for x in s.lower().split("x")) for s in _SHAPES.value]
    for name in _MODELS.value:
        bench_model(name, shapes, run)
    path = run.finish(COLUMNS, title="Precision benchmark (sequences/s)")
    path.with_suffix(".md").write_text(_markdown(run))
    print(f"wrote {path.with_suffix('.md')}")


if __name__ == "__main__":
    app.run(main)
