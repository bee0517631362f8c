"""Text -> BERT ids in TF ops (tf-text), identical to google-research/bert.

Public API: `TokenizerSettings`, `BertTokenizer`, `BertPreprocessor`,
`build_preprocess_model`, `bert_pack_inputs`, `load_vocab`.
"""

from bert_tf.preprocess.module import BertPreprocessor, build_preprocess_model
from bert_tf.preprocess.packing import SpecialTokenIds, bert_pack_inputs
from bert_tf.preprocess.tokenizer import (
    BertTokenizer,
    SettingsError,
    TokenizerSettings,
    VocabError,
    load_vocab,
)

__all__ = [
    "BertPreprocessor",
    "BertTokenizer",
    "SettingsError",
    "SpecialTokenIds",
    "TokenizerSettings",
    "VocabError",
    "bert_pack_inputs",
    "build_preprocess_model",
    "load_vocab",
]
