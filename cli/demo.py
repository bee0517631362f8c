r"""A short demo of an exported pair: sentence similarity through hub.KerasLayer.

Loads EXPORT_DIR/preprocess and EXPORT_DIR/encoder with hub.KerasLayer (the
way users load TF Hub models in tf_keras), embeds a few sentence pairs by
mean-pooling sequence_output over the real tokens (as sentence-transformers
does for all-MiniLM-L6-v2), and prints each pair's cosine similarity.

Example (what `make demo` runs after exporting the bundled MiniLM):

  bert-tf-demo --export_dir=exports/all-MiniLM-L6-v2
"""

from __future__ import annotations

from bert_tf.cli.command import Command, Flag

FLAGS = (
    Flag("export_dir", str, "The export folder (holding encoder/ and preprocess/).", required=True),
)


def main(args) -> int:
    from bert_tf import interface
    from bert_tf.export.demo import PAIRS, format_table, similarities

    interface.check_export_dir(args.export_dir)
    print(f"Sentence similarity with {args.export_dir} (hub.KerasLayer, mean pooling, cosine):")
    print(format_table(PAIRS, similarities(args.export_dir)))
    return 0


COMMAND = Command("bert-tf-demo", __doc__, main, flags=FLAGS)
run = COMMAND.run

if __name__ == "__main__":
    run()
