"""Preprocessing throughput (lines/s): our exported preprocess model vs peers.

All contenders turn the same real sentences (see `bench.corpus`) into the
three id tensors, padded to 128, with MiniLM's uncased vocab:
- ours: the exported `preprocess/` loaded with `tf.saved_model.load`, called as
  `preprocess(strings)` (default seq_length 128);
- Hugging Face `BertTokenizerFast` (Rust), `padding="max_length",
  truncation=True, max_length=128`, numpy output; timed twice, with its
  thread pool (`TOKENIZERS_PARALLELISM=true`, its default) and without, and
  compared with the faster of the two;
- stock `tensorflow_text.BertTokenizer(lower_case=True)` with tf-text's
  `combine_segments` and `pad_model_inputs` in a `tf.function`.
One timed call encodes the whole corpus in batches of `--batch_size`; the
contenders run interleaved, figures are medians after warm-up. It also counts
the lines on which our ids equal `BertTokenizerFast`'s (a sanity check; the
exactness reference is google-research's tokenizer, tested in tests/).

Run:
  .venv/bin/python -m bench.preprocess_throughput
  .venv/bin/python -m bench.preprocess_throughput --batch_sizes=1,32,256
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import os  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from bench import corpus, models  # noqa: E402

_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["32", "256"], "Lines per call.")
_SEQ = flags.DEFINE_integer("seq_length", 128, "Padded length.")
_BUDGET = flags.DEFINE_float("budget_s", 30.0, "Timing budget per batch size.")

COLUMNS = [
    ("batch_size", "{}"),
    ("lines", "{}"),
    ("ours_lines_per_s", "{:.0f}"),
    ("hf_fast_parallel_lines_per_s", "{:.0f}"),
    ("hf_fast_serial_lines_per_s", "{:.0f}"),
    ("tf_text_lines_per_s", "{:.0f}"),
    ("ratio_vs_hf_fast", "{:.2f}x"),
    ("ratio_vs_tf_text", "{:.2f}x"),
    ("ids_equal_hf_fast", "{:.2%}"),
]


def _stock_tf_text(vocab_file: str, seq_length: int):
    """The tf-text tutorial pipeline: BertTokenizer, combine_segments, pad."""
    import tensorflow as tf
    import tensorflow_text as text

    tokenizer = text.BertTokenizer(vocab_file, lower_case=True, token_out_type=tf.int32)
    vocab = [line.rstrip("\n") for line in open(vocab_file, encoding="utf-8")]
    cls_id, sep_id = vocab.index("[CLS]"), vocab.index("[SEP]")
    trimmer = text.RoundRobinTrimmer(max_seq_length=seq_length - 2)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def encode(strings):
        tokens = tokenizer.tokenize(strings).merge_dims(-2, -1)
        trimmed = trimmer.trim([tokens])
        ids, type_ids = text.combine_segments(trimmed, cls_id, sep_id)
        word_ids, mask = text.pad_model_inputs(ids, max_seq_length=seq_length)
        type_ids, _ = text.pad_model_inputs(type_ids, max_seq_length=seq_length)
        return {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": type_ids}

    return encode


def main(argv) -> None:
    del argv
    import tensorflow as tf
    import transformers

    run = harness.Run("preprocess_throughput")
    lines = corpus.sentences()
    vocab_file = str(models.minilm_path() / "vocab.txt")
    seq = _SEQ.value
    preprocess = tf.saved_model.load(str(models.export_dir("minilm") / "preprocess"))
    hf_fast = transformers.BertTokenizerFast(vocab=vocab_file, do_lower_case=True)
    stock = _stock_tf_text(vocab_file, seq)

    def batches(size):
        return [lines[i : i + size] for i in range(0, len(lines), size)]

    for size in (int(b) for b in _BATCH_SIZES.value):
        str_batches = batches(size)
        tf_batches = [tf.constant(b) for b in str_batches]

        def ours():
            return [preprocess(b)["input_word_ids"].numpy() for b in tf_batches]

        def hf(parallel="true"):
            os.environ["TOKENIZERS_PARALLELISM"] = parallel  # Read by tokenizers per call.
            return [
                hf_fast(
                    b, padding="max_length", truncation=True, max_length=seq, return_tensors="np"
                )["input_ids"]
                for b in str_batches
            ]

        def hf_serial():
            return hf(parallel="false")

        def tf_text():
            return [stock(b)["input_word_ids"].numpy() for b in tf_batches]

        ours_ids = np.concatenate(ours())
        hf_ids = np.concatenate(hf())
        assert ours_ids.shape == (len(lines), seq), ours_ids.shape
        equal = float(np.mean(np.all(ours_ids == hf_ids, axis=1)))
        timings = harness.measure_interleaved(
            {"ours": ours, "hf_fast_parallel": hf, "hf_fast_serial": hf_serial, "tf_text": tf_text},
            warmup=1,
            repeats=3,
            budget_s=_BUDGET.value,
        )
        row = {
            "batch_size": size,
            "lines": len(lines),
            "seq_length": seq,
            "ids_equal_hf_fast": equal,
        }
        for key, timing in timings.items():
            row[f"{key}_lines_per_s"] = timing.per_second(len(lines))
            row[f"{key}_timing"] = timing.to_dict()
        row["hf_fast_lines_per_s"] = max(
            row["hf_fast_parallel_lines_per_s"], row["hf_fast_serial_lines_per_s"]
        )
        row["ratio_vs_hf_fast"] = row["ours_lines_per_s"] / row["hf_fast_lines_per_s"]
        row["ratio_vs_tf_text"] = row["ours_lines_per_s"] / row["tf_text_lines_per_s"]
        print(
            f"  batch {size}: ours {row['ours_lines_per_s']:.0f}, "
            f"hf_fast {row['hf_fast_lines_per_s']:.0f}, "
            f"tf_text {row['tf_text_lines_per_s']:.0f} lines/s",
            flush=True,
        )
        run.add(row)
    run.finish(COLUMNS, title=f"Preprocessing throughput (lines/s, padded to {seq})")


if __name__ == "__main__":
    app.run(main)
