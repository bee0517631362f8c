r"""What an exported encoder + preprocessing pair holds.

Prints the signatures of encoder/ and preprocess/, and of embedding/ and a
task folder (classifier/) where present (inputs and outputs with dtypes and
shapes), the callable sub-objects (mlm, tokenize, bert_pack_inputs, ...), the
task and its labels, the config, the vocab size and special tokens, the tokenizer settings,
and the parity figures measured when the export was verified.

Examples:

  bert-tf-inspect exports/all-MiniLM-L6-v2

Works on any TF Hub BERT pair (encoder/ + preprocess/); the config and figures
are shown for exports written by bert-tf. As a library:
bert_tf.export.inspection.inspect_export(DIR).
"""

from __future__ import annotations

from bert_tf.cli.command import Command


def main(args) -> int:
    from bert_tf import interface
    from bert_tf.export.inspection import format_inspection, inspect_export

    interface.check_export_dir(args.export_dir)
    print(format_inspection(inspect_export(args.export_dir)))
    return 0


COMMAND = Command("bert-tf-inspect", __doc__, main, positional=("EXPORT_DIR",))
run = COMMAND.run

if __name__ == "__main__":
    run()
