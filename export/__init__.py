"""bert-tf's export: a checkpoint -> the paired TF Hub SavedModels (encoder + preprocess).

- `export.pair.export_pair(checkpoint, output_dir, ...)`: build, load, verify, write atomically;
- `export.saved_encoder`: the `encoder/` SavedModel (hub.KerasLayer, signatures, `mlm`);
- `export.sources`: format, config, vocab and tokenizer-settings detection;
- `export.verify`: the reload check run before an export is renamed into place;
- `export.atomic`: write a folder beside its destination, then rename it;
- `export.model_card`: the export's README.md and metadata;
- CLIs: `python -m export` (`bert-tf-export`), `export.inspect` (`bert-tf-inspect`),
  `export.fill_mask` (`bert-tf-fill-mask`), `export.demo`.

Importing this package does not import TensorFlow (so `--help` is instant).
"""
