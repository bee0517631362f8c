"""Reference-exact BERT tokenization: normalizer + words + WordPiece, in TF ops.

`BertTokenizer` here gives the same ids as google-research/bert
`tokenization.FullTokenizer` (BasicTokenizer then WordpieceTokenizer with
`max_input_chars_per_word=200`) for every setting, and byte offsets into the
original strings. The normalization lives in `normalize.py`; this module forms
words from the normalized characters, runs `tf_text.FastWordpieceTokenizer`
on each word (`no_pretokenization=True`: our words are already the
reference's words) and maps the wordpiece offsets back to the input bytes.
`tokenize` sends lines of printable ASCII (most English text) through a
shorter path, a regex split, with the same result (see `tokenize`).

Example with a tiny vocab:

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
>>> with open(path, "w") as f:
...   _ = f.write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
...                          "hello", "!", "wor", "##ld"]) + "\\n")
>>> tok = BertTokenizer(path, TokenizerSettings(do_lower_case=True))
>>> tok.tokenize(tf.constant(["HeLLo World!"])).to_list()
[[[5], [7, 8], [6]]]
"""

from __future__ import annotations

import dataclasses
import json
import os

import tensorflow as tf
import tensorflow_text as tf_text

from bert_tf.preprocess import normalize

# google-research/bert WordpieceTokenizer's default.
MAX_INPUT_CHARS_PER_WORD = 200

# Lines that `BertTokenizer.tokenize` splits with one regex instead of the
# normalizer: printable ASCII plus tab, newline and carriage return (most
# English text). Other control characters (deleted by the reference), DEL and
# any non-ASCII byte send a line to the exact path.
_SIMPLE_ASCII_LINE = r"[\x20-\x7e\t\n\r]*"
# The reference's punctuation within them: every printable non-alphanumeric.
_ASCII_PUNCTUATION = r"[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]"

UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
PAD_TOKEN = "[PAD]"
MASK_TOKEN = "[MASK]"


class VocabError(ValueError):
    """A vocab file that cannot be used (missing special token, unreadable)."""


class SettingsError(ValueError):
    """Tokenizer settings that cannot be used (bad tokenizer_config.json)."""


@dataclasses.dataclass(frozen=True)
class TokenizerSettings:
    """How text is normalized before WordPiece.

    Attributes:
      do_lower_case: apply Python `str.lower()` to each word.
      strip_accents: NFD then drop Mn characters. `None` follows
        `do_lower_case` (google-research/bert and Hugging Face semantics:
        lower casing strips accents unless `strip_accents` is `False`).
      tokenize_chinese_chars: make every CJK ideograph a word of its own.
    """

    do_lower_case: bool
    strip_accents: bool | None = None
    tokenize_chinese_chars: bool = True

    def __post_init__(self):
        for field in ("do_lower_case", "tokenize_chinese_chars"):
            if not isinstance(getattr(self, field), bool):
                raise SettingsError(
                    f"TokenizerSettings.{field}: expected a bool, found {getattr(self, field)!r}"
                )
        if self.strip_accents is not None and not isinstance(self.strip_accents, bool):
            raise SettingsError(
                "TokenizerSettings.strip_accents: expected a bool or None, "
                f"found {self.strip_accents!r}"
            )

    @property
    def effective_strip_accents(self) -> bool:
        """Whether accents are stripped, after resolving `None`."""
        if self.strip_accents is None:
            return self.do_lower_case
        return self.strip_accents

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_tokenizer_config(cls, path: str | os.PathLike) -> TokenizerSettings:
        """Reads a Hugging Face `tokenizer_config.json`.

        Missing keys take Hugging Face's `BertTokenizer` defaults
        (`do_lower_case=True`, `strip_accents=None`,
        `tokenize_chinese_chars=True`).
        """
        try:
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError) as e:
            raise SettingsError(f"{path}: cannot read tokenizer config: {e}") from e
        if not isinstance(config, dict):
            raise SettingsError(f"{path}: expected a JSON object, found {type(config).__name__}")
        values = dict(
            do_lower_case=config.get("do_lower_case", True),
            strip_accents=config.get("strip_accents", None),
            tokenize_chinese_chars=config.get("tokenize_chinese_chars", True),
        )
        try:
            return cls(**values)
        except SettingsError as e:
            raise SettingsError(f"{path}: {e}") from e


def load_vocab(vocab_file: str | os.PathLike) -> list[str]:
    """Reads a vocab the way google-research/bert `load_vocab` does.

    One token per `\\n`-terminated line, stripped of surrounding whitespace; a
    repeated token keeps its first id and does not take an id itself (so later
    ids shift, exactly as in the reference).

    Returns:
      The tokens; a token's id is its index.
    """
    try:
        with tf.io.gfile.GFile(os.fspath(vocab_file), "rb") as f:
            data = f.read()
    except (OSError, tf.errors.OpError) as e:
        raise VocabError(f"{vocab_file}: cannot read vocab: {e}") from e
    text = data.decode("utf-8", "ignore")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    tokens: list[str] = []
    seen: set[str] = set()
    for line in lines:
        token = line.strip()
        if token not in seen:
            seen.add(token)
            tokens.append(token)
    if not tokens:
        raise VocabError(f"{vocab_file}: the vocab is empty")
    return tokens


def _wordpiece_vocab(tokens: list[str]) -> list[str]:
    """Tokens as FastWordpieceTokenizer gets them; ids unchanged.

    A token that no word can ever match in the reference (the empty string
    from an empty line, the bare suffix indicator) is replaced by a
    placeholder holding a space, which no word contains either.
    """
    out = []
    for i, token in enumerate(tokens):
        if token in ("", "##"):
            token = f"[bert-tf unmatchable {i}] "
        out.append(token)
    return out


@dataclasses.dataclass(frozen=True)
class _Tokens:
    """The vocab's tokens, in a holder `tf.nest` sees as one leaf.

    `tf.Module` walks (and `tf.saved_model.save` tracks) every list it holds,
    element by element: a 30,000-token list made that walk cost seconds.
    """

    tokens: tuple[str, ...]


class BertTokenizer(tf.Module):
    """Strings -> wordpiece ids, identical to google-research/bert.

    Args:
      vocab_file: path of `vocab.txt`.
      settings: the `TokenizerSettings`.
      ascii_fast_path: in `tokenize`, split lines of printable ASCII (plus
        `\\t\\n\\r`) with one regex instead of running the Unicode
        normalizer on them; same ids (tested against the exact path and the
        reference), faster on English text (docs/performance.md).
        `tokenize_with_offsets`
        always takes the exact path.
    """

    def __init__(
        self,
        vocab_file: str | os.PathLike,
        settings: TokenizerSettings,
        name: str = "bert_tokenizer",
        *,
        ascii_fast_path: bool = True,
    ):
        super().__init__(name=name)
        self.settings = settings
        self.ascii_fast_path = bool(ascii_fast_path)
        self._tokens = _Tokens(tuple(load_vocab(vocab_file)))
        ids = {token: i for i, token in enumerate(self.vocab)}
        missing = [t for t in (UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, PAD_TOKEN) if t not in ids]
        if missing:
            raise VocabError(
                f"{vocab_file}: special tokens {missing} not found in "
                f"the vocab ({len(self.vocab)} tokens)"
            )
        self.special_token_ids = dict(
            vocab_size=len(self.vocab),
            start_of_sequence_id=ids[CLS_TOKEN],
            end_of_segment_id=ids[SEP_TOKEN],
            padding_id=ids[PAD_TOKEN],
            # Like TF Hub's preprocessors: -1 when the vocab has no [MASK].
            mask_id=ids.get(MASK_TOKEN, -1),
        )
        self._unk_id = ids[UNK_TOKEN]
        self._normalizer = normalize.Normalizer(
            lower_case=settings.do_lower_case,
            strip_accents=settings.effective_strip_accents,
            tokenize_chinese_chars=settings.tokenize_chinese_chars,
        )
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=_wordpiece_vocab(self.vocab),
            suffix_indicator="##",
            # Words of up to 200 code points reach WordPiece; longer ones are
            # [UNK] before it. 4 bytes per code point at most.
            max_bytes_per_word=4 * MAX_INPUT_CHARS_PER_WORD,
            token_out_type=tf.int32,
            unknown_token=UNK_TOKEN,
            no_pretokenization=True,
            support_detokenization=False,
        )

    @property
    def vocab(self) -> tuple[str, ...]:
        """The tokens; a token's id is its index (as `load_vocab` reads them)."""
        return self._tokens.tokens

    def _words(self, strings):
        """Splits a batch into the reference's words.

        Returns:
          (words: int32 code points `[num_words, (chars)]`, word_row: int64
          `[num_words]` input index, chars: the flat `NormalizedChars` of the word
          characters only, in word order).
        """
        chars = self._normalizer.normalize(strings)
        cls = chars.classes
        row = chars.row_ids
        prev_cls = tf.concat([[normalize.SPACE], cls[:-1]], axis=0)
        prev_row = tf.concat([tf.constant([-1], row.dtype), row[:-1]], axis=0)
        continues = (cls == normalize.NORMAL) & (prev_cls == normalize.NORMAL) & (prev_row == row)
        keep = tf.where(cls != normalize.SPACE)[:, 0]
        chars = normalize.NormalizedChars(
            code_points=tf.gather(chars.code_points, keep),
            classes=tf.gather(cls, keep),
            row_ids=tf.gather(row, keep),
            byte_starts=tf.gather(chars.byte_starts, keep),
            byte_limits=tf.gather(chars.byte_limits, keep),
        )
        starts = tf.where(~tf.gather(continues, keep))[:, 0]
        words = tf.RaggedTensor.from_row_starts(chars.code_points, starts, validate=False)
        word_row = tf.gather(chars.row_ids, starts)
        return words, word_row, chars

    def _word_strings(self, words):
        strings = tf.strings.unicode_encode(words, "UTF-8")
        too_long = words.row_lengths() > MAX_INPUT_CHARS_PER_WORD
        # The unknown token is a vocab entry, so WordPiece maps it to itself.
        return tf.where(too_long, UNK_TOKEN, strings), too_long

    @staticmethod
    def _check_input(strings):
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
        if strings.shape.rank is not None and strings.shape.rank != 1:
            raise ValueError(
                f"tokenize: expected strings of shape [batch], found shape {strings.shape}"
            )
        return strings

    def tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """Tokenizes a batch.

        With `ascii_fast_path`, the lines matching `_SIMPLE_ASCII_LINE` take
        `_tokenize_simple_ascii`, the others the exact path; the results are
        put back in input order (same ids and nesting as the exact path alone).

        Args:
          strings: string `[batch]`.

        Returns:
          int32 RaggedTensor `[batch, (words), (wordpieces)]`.
        """
        strings = self._check_input(strings)
        if not self.ascii_fast_path:
            return self._tokenize_exact(strings)
        simple = tf.strings.regex_full_match(strings, _SIMPLE_ASCII_LINE)
        simple_rows = tf.where(simple)[:, 0]
        other_rows = tf.where(~simple)[:, 0]
        other = tf.gather(strings, other_rows)
        # Batches of simple lines only (short English batches) skip the exact
        # path's few hundred ops altogether.
        other_tokens = tf.cond(
            tf.size(other_rows) > 0,
            lambda: self._tokenize_exact(other),
            lambda: tf.RaggedTensor.from_nested_row_splits(
                tf.zeros([0], tf.int32), [tf.zeros([1], tf.int64)] * 2, validate=False
            ),
        )
        tokens = tf.concat(
            [self._tokenize_simple_ascii(tf.gather(strings, simple_rows)), other_tokens], axis=0
        )
        return tf.gather(
            tokens, tf.math.invert_permutation(tf.concat([simple_rows, other_rows], axis=0))
        )

    def _tokenize_exact(self, strings):
        """Normalizer + words + WordPiece: any text, `[batch, (words), (pieces)]`."""
        words, word_row, _ = self._words(strings)
        word_strings, _ = self._word_strings(words)
        pieces = self._wordpiece.tokenize(word_strings)
        return tf.RaggedTensor.from_value_rowids(
            pieces, word_row, nrows=tf.shape(strings, out_type=tf.int64)[0], validate=False
        )

    def _tokenize_simple_ascii(self, strings):
        """The reference on lines matching `_SIMPLE_ASCII_LINE`, in fewer ops.

        For such a line every step of the normalizer is the identity or ASCII
        lower casing (nothing is deleted, no accents, no CJK, the only spaces are
        `\\t\\n\\r` and space), words are split at spaces and around every
        punctuation character, and a character is a byte (the 200-character
        rule counts bytes).
        """
        if self.settings.do_lower_case:
            strings = tf.strings.lower(strings)  # ASCII only, as `str.lower()` here.
        # A space on each side of every punctuation character, then split at
        # whitespace (tf.strings.split: fewer ops than tf_text.regex_split, which
        # validates the three ragged tensors it builds).
        words = tf.strings.split(tf.strings.regex_replace(strings, _ASCII_PUNCTUATION, r" \0 "))
        flat = words.flat_values
        too_long = tf.strings.length(flat) > MAX_INPUT_CHARS_PER_WORD
        pieces = self._wordpiece.tokenize(tf.where(too_long, UNK_TOKEN, flat))
        return words.with_flat_values(pieces)

    def tokenize_with_offsets(self, strings: tf.Tensor):
        """Tokenizes a batch, with byte offsets into the original strings.

        Args:
          strings: string `[batch]`.

        Returns:
          `(tokens, start_offsets, limit_offsets)`: int32 ids and int64 byte
          offsets, each a RaggedTensor `[batch, (words), (wordpieces)]`;
          `strings[i][start:limit]` is the input text a wordpiece came from
          (for a character that normalizes to several wordpieces' worth, e.g.
          a Hangul syllable under accent stripping, each piece spans the whole
          input character).
        """
        strings = self._check_input(strings)
        words, word_row, chars = self._words(strings)
        word_strings, too_long = self._word_strings(words)
        pieces, piece_starts, piece_limits = self._wordpiece.tokenize_with_offsets(word_strings)
        # Byte position of every word character in the concatenated words.
        char_bytes = tf.cast(normalize.utf8_length(chars.code_points), tf.int64)
        char_base = tf.cumsum(char_bytes, exclusive=True)
        word_start_char = words.row_starts()
        word_last_char = words.row_limits() - 1
        piece_word = pieces.value_rowids()
        base = tf.gather(tf.gather(char_base, word_start_char), piece_word)
        first = (
            tf.searchsorted(
                char_base, base + piece_starts.flat_values, side="right", out_type=tf.int64
            )
            - 1
        )
        last = (
            tf.searchsorted(
                char_base, base + piece_limits.flat_values - 1, side="right", out_type=tf.int64
            )
            - 1
        )
        long_piece = tf.gather(too_long, piece_word)
        first = tf.where(long_piece, tf.gather(word_start_char, piece_word), first)
        last = tf.where(long_piece, tf.gather(word_last_char, piece_word), last)
        start_offsets = pieces.with_flat_values(tf.gather(chars.byte_starts, first))
        limit_offsets = pieces.with_flat_values(tf.gather(chars.byte_limits, last))
        nrows = tf.shape(strings, out_type=tf.int64)[0]

        def nest(x):
            return tf.RaggedTensor.from_value_rowids(x, word_row, nrows=nrows, validate=False)

        return nest(pieces), nest(start_offsets), nest(limit_offsets)
