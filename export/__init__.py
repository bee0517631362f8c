"""Checkpoint -> export folder: the paired TF Hub SavedModels (encoder + preprocess) + model card.

- `export_pair(checkpoint, output_dir, options)`: build, load, verify, write
  atomically (`bert_tf.export.pair`; options in `bert_tf.export.options`);
- `bert_tf.export.sources`: format, config, vocab and tokenizer-settings detection;
- `bert_tf.export.saved_encoder`: the `encoder/` SavedModel (hub.KerasLayer, signatures, `mlm`);
- `bert_tf.export.verify`: the reload check run before an export is renamed into place;
- `bert_tf.export.model_card`: the export's README.md;
- readers of an export: `bert_tf.export.inspection` (`bert-tf-inspect`),
  `bert_tf.export.fill_mask` (`bert-tf-fill-mask`), `bert_tf.export.demo`.

The folder's names and layout are `bert_tf.interface` (docs/interface.md).
Importing this package does not import TensorFlow; its attributes load on first use.
"""

from bert_tf import lazy

__getattr__, __dir__ = lazy.exports(
    __name__,
    {
        "export_pair": "bert_tf.export.pair",
        "ExportResult": "bert_tf.export.pair",
        "ExportOptions": "bert_tf.export.options",
        "ExportError": "bert_tf.export.errors",
    },
)
