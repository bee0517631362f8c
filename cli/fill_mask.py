r"""Predict the [MASK] words of a text with an exported masked-LM head.

Needs an export made with --with_mlm (it calls encoder.mlm). Each literal
[MASK] in the text becomes the mask token; the rest is tokenized by the
export's own preprocess/.

Examples:

  bert-tf-export --checkpoint=uncased_L-12_H-768_A-12 --output_dir=exports/bert --with_mlm
  bert-tf-fill-mask exports/bert "Hello I'm a [MASK] model."
  bert-tf-fill-mask exports/bert "Paris is the [MASK] of [MASK]." --top_k=3

As a library: bert_tf.export.fill_mask.fill_mask(export_dir, text, top_k=5).
"""

from __future__ import annotations

from bert_tf.cli.command import Command, Flag, UsageError

MASK = "[MASK]"
FLAGS = (Flag("top_k", int, "How many predictions to show per [MASK].", default=5, lower_bound=1),)


def main(args) -> int:
    if MASK not in args.text:
        raise UsageError(f"the text has no {MASK}: {args.text!r}")
    from bert_tf import interface
    from bert_tf.export.fill_mask import fill_mask, format_predictions

    interface.check_export_dir(args.export_dir)
    print(format_predictions(args.text, fill_mask(args.export_dir, args.text, args.top_k)))
    return 0


COMMAND = Command(
    "bert-tf-fill-mask", __doc__, main, flags=FLAGS, positional=("EXPORT_DIR", "TEXT")
)
run = COMMAND.run

if __name__ == "__main__":
    run()
