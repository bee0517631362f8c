"""The reference tokenizers the tests compare against.

- google-research/bert `tokenization.py` (PyPI `bert-tensorflow`): its
  `BasicTokenizer` + `WordpieceTokenizer` (the parts of `FullTokenizer`),
  with the vocab loaded by our own reader instead of `tf.gfile`.
- Hugging Face's python `BasicTokenizer` (transformers'
  `tokenization_bert_legacy`), for the `strip_accents` /
  `tokenize_chinese_chars` settings of a `tokenizer_config.json`, followed by
  the google-research `WordpieceTokenizer` (200 characters per word).
"""

from __future__ import annotations

import unicodedata

from absl import flags
from bert import tokenization as google_tokenization

if not flags.FLAGS.is_parsed():
    # tokenization.py reads --preserve_unused_tokens (default False).
    flags.FLAGS.mark_as_parsed()


class ReferenceTokenizer:
    """text -> list of wordpiece ids, by the reference implementation.

    Args:
      vocab: the tokens (id = index).
      do_lower_case, strip_accents, tokenize_chinese_chars: settings; with
        the google defaults (`strip_accents=None`,
        `tokenize_chinese_chars=True`) the google-research BasicTokenizer
        runs, otherwise Hugging Face's.
    """

    def __init__(self, vocab, do_lower_case, strip_accents=None, tokenize_chinese_chars=True):
        self.vocab = {t: i for i, t in enumerate(vocab)}
        self.is_huggingface = not (strip_accents is None and tokenize_chinese_chars)
        if not self.is_huggingface:
            self.basic = google_tokenization.BasicTokenizer(
                do_lower_case=do_lower_case, vocab=self.vocab
            )
        else:
            from transformers.models.bert import tokenization_bert_legacy

            self.basic = tokenization_bert_legacy.BasicTokenizer(
                do_lower_case=do_lower_case,
                strip_accents=strip_accents,
                tokenize_chinese_chars=tokenize_chinese_chars,
            )
        self.wordpiece = google_tokenization.WordpieceTokenizer(
            vocab=self.vocab, max_input_chars_per_word=200
        )

    def comparable(self, text) -> bool:
        """Whether google-research semantics and this reference can agree on `text`.

        Hugging Face's BasicTokenizer differs from google-research's in two ways
        unrelated to its flags: it applies NFC, and it deletes every C* character
        (private use Co, unassigned Cn) where google-research deletes only Cc/Cf.
        We follow google-research (docs/interface.md), so the HF-flag comparisons use
        text where neither step changes anything.
        """
        if not self.is_huggingface:
            return True
        if isinstance(text, bytes):
            text = text.decode("utf-8", "ignore")
        # HF normalizes after cleaning (which deletes Cc/Cf characters).
        cleaned = self.basic._clean_text(text)  # pylint: disable=protected-access
        return unicodedata.normalize("NFC", cleaned) == cleaned and not any(
            unicodedata.category(c) in ("Co", "Cn", "Cs") for c in text
        )

    def words(self, text):
        """[[wordpiece tokens] per word]."""
        return [self.wordpiece.tokenize(w) for w in self.basic.tokenize(text)]

    def __call__(self, text):
        return [self.vocab[p] for w in self.words(text) for p in w]
