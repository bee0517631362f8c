"""bert_tf: the Keras (tf_keras) BERT encoder, its config, heads and checkpoint readers.

    from bert_tf import BertConfig, build_encoder, find_checkpoint, load_checkpoint

    files = find_checkpoint("path/to/checkpoint")
    config = BertConfig.from_file(files.config)
    encoder = build_encoder(config)
    report = load_checkpoint(files, encoder)

    # Sentence vectors from an exported pair (see bert_tf/embedding.py):
    vectors = bert_tf.embed(["A sentence.", "Another one."], "exports/all-MiniLM-L6-v2")
"""

from bert_tf.checkpoints import CheckpointFiles, LoadReport, find_checkpoint, load_checkpoint
from bert_tf.config import BertConfig
from bert_tf.embedding import embed, embed_file
from bert_tf.encoder import BertEncoder, build_encoder
from bert_tf.errors import BertTfError, CheckpointError, ConfigError
from bert_tf.heads import build_mlm_model, build_nsp_model
from bert_tf.presets import list_presets, load_preset

__all__ = [
    "BertConfig", "BertEncoder", "BertTfError", "CheckpointError", "CheckpointFiles",
    "ConfigError", "LoadReport", "build_encoder", "build_mlm_model", "build_nsp_model",
    "embed", "embed_file", "find_checkpoint", "list_presets", "load_checkpoint", "load_preset",
]
