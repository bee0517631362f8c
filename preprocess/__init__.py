"""Text -> BERT ids in TF ops (tf-text), identical to google-research/bert.

Public API: `TokenizerSettings`, `BertTokenizer`, `BertPreprocessor`,
`build_preprocess_model`, `bert_pack_inputs`, `load_vocab`.
"""

from preprocess.module import BertPreprocessor
from preprocess.module import build_preprocess_model
from preprocess.packing import bert_pack_inputs
from preprocess.packing import SpecialTokenIds
from preprocess.tokenizer import BertTokenizer
from preprocess.tokenizer import load_vocab
from preprocess.tokenizer import SettingsError
from preprocess.tokenizer import TokenizerSettings
from preprocess.tokenizer import VocabError

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
