"""bert_tf: BERT checkpoints to paired TF Hub SavedModels (encoder + preprocessing), and back.

Everything bert-tf installs lives under this one namespace:

| package | what it holds |
| --- | --- |
| `bert_tf` (this folder) | the model: config, presets, layers, encoder, heads, checkpoint readers; the export contract (`bert_tf.interface`), errors, atomic outputs |
| `bert_tf.preprocess` | text -> ids in TF ops (tf-text), exact to google-research/bert |
| `bert_tf.export` | checkpoint -> verified export folder (`export_pair`), inspection, fill-mask |
| `bert_tf.embedding` | export folder -> sentence vectors (`embed`, `embed_file`) |
| `bert_tf.finetune` | export folder -> fine-tuned, string-in classifier |
| `bert_tf.cli` | the console scripts, one module each, one pattern |
| `bert_tf.configs` | presets as JSON data |

Examples:

    from bert_tf import BertConfig, build_encoder, find_checkpoint, load_checkpoint

    files = find_checkpoint("path/to/checkpoint")
    config = BertConfig.from_file(files.config)
    encoder = build_encoder(config)
    report = load_checkpoint(files, encoder)

    # Sentence vectors from an export folder:
    vectors = bert_tf.embed(["A sentence.", "Another one."], "exports/all-MiniLM-L6-v2")

The names below load on first use, so `import bert_tf` is cheap.
"""

from bert_tf import lazy
from bert_tf.version import __version__

__getattr__, __dir__ = lazy.exports(
    __name__,
    {
        "BertConfig": "bert_tf.config",
        "BertEncoder": "bert_tf.encoder",
        "build_encoder": "bert_tf.encoder",
        "BertTfError": "bert_tf.errors",
        "CheckpointError": "bert_tf.errors",
        "ConfigError": "bert_tf.errors",
        "CheckpointFiles": "bert_tf.checkpoints",
        "LoadReport": "bert_tf.checkpoints",
        "find_checkpoint": "bert_tf.checkpoints",
        "load_checkpoint": "bert_tf.checkpoints",
        "build_mlm_model": "bert_tf.heads",
        "build_nsp_model": "bert_tf.heads",
        "list_presets": "bert_tf.presets",
        "load_preset": "bert_tf.presets",
        "embed": "bert_tf.embedding.embedder",
        "embed_file": "bert_tf.embedding.files",
    },
)

__all__ = ["__version__", *__dir__()]
