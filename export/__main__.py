r"""bert-tf-export: a BERT checkpoint -> a verified TF Hub encoder + preprocessing pair.

Writes `OUTPUT_DIR/encoder` (the Keras encoder SavedModel), `OUTPUT_DIR/preprocess`
(the tf-text preprocessing SavedModel) and `OUTPUT_DIR/README.md` (the model
card). Both SavedModels are loaded back and checked on a few texts before the
folder is renamed into place; on any error nothing is left at OUTPUT_DIR.

Examples:

  # A Hugging Face / sentence-transformers folder (format and casing detected):
  bert-tf-export --checkpoint=path/to/all-MiniLM-L6-v2 --output_dir=exports/minilm

  # A google-research TF1 checkpoint, with the masked-LM head for fill-mask:
  bert-tf-export --checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt \
      --output_dir=exports/bert_base --with_mlm

  # The config as a preset name, a different vocab, forced casing:
  bert-tf-export --checkpoint=ckpt_dir --config=bert_cased_L-12_H-768_A-12 \
      --vocab_file=my_vocab.txt --nodo_lower_case --output_dir=exports/x

  # Users of TF Model Garden's export_tfhub.py can keep their flags:
  python -m export --bert_config_file=bert_config.json \
      --model_checkpoint_path=bert_model.ckpt --vocab_file=vocab.txt \
      --do_lower_case --export_path=exports/bert_base

Then inspect or try the export:

  bert-tf-inspect exports/bert_base
  bert-tf-fill-mask exports/bert_base "Paris is the [MASK] of France."

The same as a library call: `export.pair.export_pair(checkpoint, output_dir, ...)`.
"""

from __future__ import annotations


from absl import app, flags

from export import cli

# allow_override: other CLIs of the project (finetune, embed) use some of the same
# flag names; a test process that imports several of them must not fail.
_FLAG = dict(allow_override=True)

flags.DEFINE_string(
    "checkpoint", None,
    "The checkpoint: a TF1 prefix (.../bert_model.ckpt), a folder holding one, or a "
    "Hugging Face / sentence-transformers folder. Its config, vocab.txt and "
    "tokenizer_config.json are found beside it.", **_FLAG)
flags.DEFINE_string(
    "output_dir", None,
    "The export folder to create: OUTPUT_DIR/encoder, OUTPUT_DIR/preprocess, "
    "OUTPUT_DIR/README.md.", **_FLAG)
flags.DEFINE_string(
    "config", None,
    "A config file (bert_config.json or config.json) or a preset name from configs/; "
    "default: the config beside the checkpoint.", **_FLAG)
flags.DEFINE_string(
    "vocab_file", None,
    "The wordpiece vocab; default: the vocab.txt beside the checkpoint.", **_FLAG)
flags.DEFINE_boolean(
    "do_lower_case", None,
    "Lower-case (and strip accents from) text before tokenizing. Default: from "
    "tokenizer_config.json, the preset, the checkpoint's name or the vocab; the choice "
    "is logged.", **_FLAG)
flags.DEFINE_integer(
    "default_seq_length", 128, "The seq_length of preprocess(strings).", lower_bound=2,
    **_FLAG)
flags.DEFINE_boolean(
    "with_mlm", False,
    "Also export the masked-LM head as encoder.mlm (for fill-mask and further "
    "pre-training); the checkpoint must have it.", **_FLAG)
flags.DEFINE_boolean(
    "overwrite", False,
    "Replace an existing OUTPUT_DIR, only once the new export is verified.", **_FLAG)
flags.DEFINE_boolean(
    "serving_jit_compile", True,
    "XLA-compile the encoder's serving_default and tokens signatures.", **_FLAG)

# TF Model Garden's export_tfhub.py names, where the meaning is the same.
flags.DEFINE_alias("model_checkpoint_path", "checkpoint")
flags.DEFINE_alias("bert_config_file", "config")
flags.DEFINE_alias("export_path", "output_dir")

FLAGS = flags.FLAGS


def main(argv) -> int:
    """Exports with the parsed flags; raises on failure (see `cli.guarded`)."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    missing = [name for name in ("checkpoint", "output_dir") if not FLAGS[name].value]
    if missing:
        raise app.UsageError(
            "missing " + " and ".join(f"--{name}" for name in missing) + " (see --help)")
    from export import pair

    result = pair.export_pair(
        FLAGS.checkpoint, FLAGS.output_dir, config=FLAGS.config,
        vocab_file=FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case,
        default_seq_length=FLAGS.default_seq_length, with_mlm=FLAGS.with_mlm,
        overwrite=FLAGS.overwrite, serving_jit_compile=FLAGS.serving_jit_compile)
    diffs = result.metadata["verification"]["max_abs_diff"]
    print(f"Exported {result.output_dir} in {result.seconds:.1f} s "
          f"(verified: max abs diff {max(diffs.values()):.1e})")
    return 0


def run() -> None:
    """The `bert-tf-export` console script."""
    cli.run(main)


if __name__ == "__main__":
    run()
