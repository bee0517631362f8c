"""Encoder throughput: our exported encoder against Hugging Face PyTorch.

For each model (all-MiniLM-L6-v2, a random BERT-base-shaped checkpoint) and
each batch x length, times a forward pass of
- ours: the exported `encoder/` loaded with `tf.saved_model.load`, called as
  users call it (`encoder(inputs, training=False)`);
- ours + XLA: the same restored function wrapped in `tf.function(jit_compile=True)`
  (what an XLA-compiled serving function in the SavedModel would give);
- Hugging Face `transformers.BertModel` in PyTorch on the same checkpoint,
  under `torch.inference_mode()`.
The contenders run interleaved in one process; figures are medians after
warm-up. A float32 2048^3 matmul is timed in the same interleaved rounds (so under the
same load at the same moment) and each contender's achieved GFLOP/s is
reported as a fraction of its GFLOP/s: the machine's ceiling.

Run:
  .venv/bin/python -m bench.encoder_throughput
  .venv/bin/python -m bench.encoder_throughput --models=minilm --shapes=32x128
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from bench import models  # noqa: E402

_MODELS = flags.DEFINE_list("models", ["minilm", "bert-base"], "Checkpoints to run.")
_SHAPES = flags.DEFINE_list("shapes", ["1x128", "32x128", "8x512"], "batch x length pairs.")
_BUDGET = flags.DEFINE_float("budget_s", 20.0, "Timing budget per shape, all contenders.")
_XLA = flags.DEFINE_bool("xla", True, "Also time the restored encoder under jit_compile.")

COLUMNS = [
    ("model", "{}"),
    ("shape", "{}"),
    ("ours_seq_per_s", "{:.1f}"),
    ("ours_xla_seq_per_s", "{:.1f}"),
    ("hf_torch_seq_per_s", "{:.1f}"),
    ("ratio_vs_hf", "{:.2f}x"),
    ("ratio_xla_vs_hf", "{:.2f}x"),
    ("matmul_gflop_per_s", "{:.0f}"),
    ("ours_frac_of_matmul", "{:.0%}"),
    ("ours_xla_frac_of_matmul", "{:.0%}"),
    ("hf_torch_frac_of_matmul", "{:.0%}"),
]


def bench_model(name: str, shapes: list[tuple[int, int]], run: harness.Run) -> None:
    import tensorflow as tf
    import torch
    import transformers

    shape = models.shape_of(name)
    export = models.export_dir(name)
    encoder = tf.saved_model.load(str(export / "encoder"))
    hf = transformers.BertModel.from_pretrained(str(models.checkpoint_path(name))).eval()

    @tf.function(jit_compile=True)
    def encoder_xla(inputs):
        return encoder(inputs, training=False)["sequence_output"]

    for batch, seq in shapes:
        arrays = harness.encoder_inputs(batch, seq, shape.vocab)
        tf_inputs = {k: tf.constant(v) for k, v in arrays.items()}
        pt_inputs = harness.torch_inputs(arrays)

        def ours():
            return encoder(tf_inputs, training=False)["sequence_output"].numpy()

        def ours_xla():
            return encoder_xla(tf_inputs).numpy()

        def hf_torch():
            with torch.inference_mode():
                return hf(**pt_inputs).last_hidden_state.numpy()

        # Same weights, same ids: the outputs must agree before speed means anything.
        max_diff = float(np.max(np.abs(ours() - hf_torch())))
        matmul, matmul_flops = harness.matmul_fn()
        contenders = {"matmul": matmul, "ours": ours, "hf_torch": hf_torch}
        if _XLA.value:
            contenders["ours_xla"] = ours_xla
            max_diff = max(max_diff, float(np.max(np.abs(ours_xla() - hf_torch()))))
        timings = harness.measure_interleaved(contenders, budget_s=_BUDGET.value)
        flops = harness.bert_forward_flops(
            batch=batch,
            seq=seq,
            hidden=shape.hidden,
            layers=shape.layers,
            intermediate=shape.intermediate,
        )
        ceiling = matmul_flops / timings.pop("matmul").median_s / 1e9
        row = {
            "model": name,
            "shape": f"{batch}x{seq}",
            "batch": batch,
            "seq_length": seq,
            "gflop_per_forward": flops / 1e9,
            "max_abs_diff_vs_hf": max_diff,
            "matmul_gflop_per_s": ceiling,
        }
        for key, timing in timings.items():
            row[f"{key}_seq_per_s"] = timing.per_second(batch)
            row[f"{key}_gflop_per_s"] = flops / timing.median_s / 1e9
            row[f"{key}_frac_of_matmul"] = row[f"{key}_gflop_per_s"] / ceiling
            row[f"{key}_timing"] = timing.to_dict()
        row["ratio_vs_hf"] = row["ours_seq_per_s"] / row["hf_torch_seq_per_s"]
        if "ours_xla" in timings:
            row["ratio_xla_vs_hf"] = row["ours_xla_seq_per_s"] / row["hf_torch_seq_per_s"]
        print(
            f"  {name} {batch}x{seq}: ours {row['ours_seq_per_s']:.1f}/s, "
            f"hf {row['hf_torch_seq_per_s']:.1f}/s, ratio {row['ratio_vs_hf']:.2f}x, "
            f"{row['ours_frac_of_matmul']:.0%} of matmul, "
            f"max|diff| {max_diff:.1e}",
            flush=True,
        )
        run.add(row)


def main(argv) -> None:
    del argv
    run = harness.Run("encoder_throughput")
    ceiling = harness.matmul_ceiling()
    run.extra["matmul_ceiling_start"] = ceiling
    print(f"float32 matmul ceiling: {ceiling['gflop_per_s']:.0f} GFLOP/s", flush=True)
    shapes = [tuple(int(x) for x in s.lower().split("x")) for s in _SHAPES.value]
    for name in _MODELS.value:
        bench_model(name, shapes, run)
    # The ceiling again at the end: if it moved, the machine's load did too.
    run.extra["matmul_ceiling_end"] = harness.matmul_ceiling()
    run.finish(COLUMNS, title="Encoder throughput (sequences/s), ours vs HF PyTorch")


if __name__ == "__main__":
    app.run(main)
