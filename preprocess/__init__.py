"""Text -> BERT ids in TF ops (tf-text), identical to google-research/bert.

Public API: `TokenizerSettings`, `BertTokenizer`, `BertPreprocessor`,
`build_preprocess_model`, `bert_pack_inputs`, `load_vocab`.
"""

from bert_tf.preprocess.module import BertPreprocessor
from bert_tf.preprocess.module import build_preprocess_model
from bert_tf.preprocess.packing import bert_pack_inputs
from bert_tf.preprocess.packing import SpecialTokenIds
from bert_tf.preprocess.tokenizer import BertTokenizer
from bert_tf.preprocess.tokenizer import load_vocab
from bert_tf.preprocess.tokenizer import SettingsError
from bert_tf.preprocess.tokenizer import TokenizerSettings
from bert_tf.preprocess.tokenizer import VocabError

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
