"""Reference-exact BERT text normalization as TF ops over Unicode code points.

google-research/bert `tokenization.BasicTokenizer` does, per string:

1. clean: delete U+0000, U+FFFD and Cc/Cf characters other than `\\t\\n\\r`;
   map `\\t\\n\\r` and Zs characters to a space;
2. pad CJK ideographs (its own code point ranges) with spaces;
3. split on Python `str.split()` whitespace (this also splits on U+2028,
   U+2029, which survive cleaning);
4. per whitespace token: `str.lower()` (full mappings, including the
   context-dependent final sigma) and accent stripping (NFD, then drop Mn);
5. split off every punctuation character (ASCII non-alphanumerics and
   Unicode P*) as its own word.

Here every per-character decision comes from lookup tables computed once, at
build time, from Python's own `unicodedata` and `str` methods (the same data
the reference uses), so the TF graph reproduces the reference exactly while
keeping, for each output character, the byte span of the input character it
came from. The tables are a two-level (256-code-point blocks) map from code
point to a *record*; a record says whether the character is deleted, kept or
replaced by an expansion (a short code point sequence such as `i̇` for
U+0130 under `str.lower()`, or the jamo of a Hangul syllable under NFD), and
the word class of the output: space (word separator), normal (joins its
neighbours) or isolated (a word on its own: punctuation, CJK ideographs).

NFD also reorders runs of combining marks by combining class; after the Mn
marks are dropped this can only move the few non-Mn marks with a non-zero
class (some viramas, Hangul tone marks, musical stems), so that sort runs
only when two of them meet in one run.
"""

from __future__ import annotations

import dataclasses
import functools
import unicodedata

import numpy as np
import tensorflow as tf

# Word classes of output characters.
SPACE = 0
NORMAL = 1
ISOLATED = 2

# Case classes used by Python's final-sigma rule (`str.lower()` of U+03A3).
_CASE_OTHER = 0
_CASE_IGNORABLE = 1
_CASE_CASED = 2

_CAPITAL_SIGMA = 0x3A3
_SMALL_SIGMA = 0x3C3
_SMALL_FINAL_SIGMA = 0x3C2

_BLOCK_BITS = 8
_BLOCK_SIZE = 1 << _BLOCK_BITS
_MAX_CODE_POINT = 0x10FFFF


def is_chinese_char(cp: int) -> bool:
    """The reference's definition of a CJK ideograph (`_is_chinese_char`)."""
    return (
        (0x4E00 <= cp <= 0x9FFF)
        or (0x3400 <= cp <= 0x4DBF)
        or (0x20000 <= cp <= 0x2A6DF)
        or (0x2A700 <= cp <= 0x2B73F)
        or (0x2B740 <= cp <= 0x2B81F)
        or (0x2B820 <= cp <= 0x2CEAF)
        or (0xF900 <= cp <= 0xFAFF)
        or (0x2F800 <= cp <= 0x2FA1F)
    )


def is_punctuation(char: str) -> bool:
    """The reference's `_is_punctuation`."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_deleted(char: str) -> bool:
    """Deleted by the reference's `_clean_text`."""
    cp = ord(char)
    if cp == 0 or cp == 0xFFFD:
        return True
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def _is_cleaned_to_space(char: str) -> bool:
    """Mapped to a space by `_clean_text` (`_is_whitespace`)."""
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _case_class(char: str) -> int:
    """Classifies `char` for the final-sigma rule, measured on `str.lower()`."""
    if (char + "\u03a3").lower()[-1] == "\u03c2" and ("1" + char + "\u03a3").lower()[
        -1
    ] == "\u03c2":
        return _CASE_CASED  # Cased and not case-ignorable.
    if ("A" + char + "\u03a3").lower()[-1] == "\u03c2":
        return _CASE_IGNORABLE
    return _CASE_OTHER


@dataclasses.dataclass(frozen=True)
class NormalizerTables:
    """Numpy lookup tables for one setting (see module docstring).

    Attributes:
      block_index: int32 `[0x1100]`, code point >> 8 -> block number.
      block_records: int32 `[num_blocks * 256]`, block * 256 + (cp & 255) ->
        record id.
      rec_identity: bool `[num_records]`, output is the input character itself.
      rec_class: int32 `[num_records]`, word class of an identity output.
      rec_start: int32 `[num_records]`, first expansion entry (non-identity).
      rec_length: int32 `[num_records]`, number of output characters (0 deletes).
      rec_case: int32 `[num_records]`, final-sigma case class of the input.
      rec_ccc: int32 `[num_records]`, canonical combining class of an identity
        output that NFD may reorder (non-Mn, non-zero class; 0 otherwise).
      rec_breaks: bool `[num_records]`, a character dropped entirely by accent
        stripping whose decomposition holds a starter (ends a mark run).
      exp_cp: int32 `[num_expansions]`, expansion code points.
      exp_class: int32 `[num_expansions]`, expansion word classes.
      exp_ccc: int32 `[num_expansions]`, as `rec_ccc`, per expansion entry.
      sigma_record: record id of U+03A3 (-1 without lower casing).
      final_sigma_record: record for U+03A3 in final position (-1 likewise).
    """

    block_index: np.ndarray
    block_records: np.ndarray
    rec_identity: np.ndarray
    rec_class: np.ndarray
    rec_start: np.ndarray
    rec_length: np.ndarray
    rec_case: np.ndarray
    rec_ccc: np.ndarray
    rec_breaks: np.ndarray
    exp_cp: np.ndarray
    exp_class: np.ndarray
    exp_ccc: np.ndarray
    sigma_record: int
    final_sigma_record: int


def _reorder_class(char: str, strip_accents: bool) -> int:
    """Combining class of a kept character that NFD's reordering can move."""
    if not strip_accents or unicodedata.category(char) == "Mn":
        return 0
    return unicodedata.combining(char)


def _output_class(char: str, isolated: bool) -> int:
    if char.isspace():
        return SPACE
    if isolated or is_punctuation(char):
        return ISOLATED
    return NORMAL


@functools.cache
def build_tables(
    lower_case: bool, strip_accents: bool, tokenize_chinese_chars: bool
) -> NormalizerTables:
    """Computes the lookup tables for one tokenizer setting.

    Args:
      lower_case: apply `str.lower()` to each whitespace token.
      strip_accents: apply NFD and drop Mn characters.
      tokenize_chinese_chars: make each CJK ideograph a word of its own.

    Returns:
      The `NormalizerTables`.
    """
    records: dict[tuple, int] = {}
    exp_cp: list[int] = [0]  # Entry 0 is a dummy so every gather is in range.
    exp_class: list[int] = [SPACE]
    exp_ccc: list[int] = [0]
    expansions: dict[tuple, int] = {}

    def record(identity, cls, expansion, case, tag=0, ccc=0, breaks=False):
        if identity:
            start, length = 0, 1
        else:
            length = len(expansion)
            if length == 0:
                start = 0
            else:
                start = expansions.get(expansion)
                if start is None:
                    start = len(exp_cp)
                    expansions[expansion] = start
                    for cp, c, k in expansion:
                        exp_cp.append(cp)
                        exp_class.append(c)
                        exp_ccc.append(k)
        key = (identity, cls, start, length, case, tag, ccc, breaks)
        rid = records.get(key)
        if rid is None:
            rid = records[key] = len(records)
        return rid

    default_record = record(True, NORMAL, (), _CASE_OTHER)
    per_cp = np.full(_MAX_CODE_POINT + 1, default_record, dtype=np.int32)
    deleted_record = record(False, SPACE, (), _CASE_IGNORABLE)
    sigma_record = final_sigma_record = -1

    for cp in range(_MAX_CODE_POINT + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue  # Surrogates never come out of UTF-8 decoding.
        char = chr(cp)
        category = unicodedata.category(char)
        if category in ("Cn", "Co") and not is_chinese_char(cp):
            # Unassigned or private use: an ordinary letter-like character,
            # unchanged (neither cased nor case-ignorable, no decomposition).
            continue
        if _is_deleted(char):
            # Invisible to everything after cleaning, the final-sigma scan included.
            per_cp[cp] = deleted_record
            continue
        if _is_cleaned_to_space(char) or char.isspace():
            per_cp[cp] = record(True, SPACE, (), _CASE_OTHER)
            continue
        isolated = tokenize_chinese_chars and is_chinese_char(cp)
        case = _case_class(char) if lower_case else _CASE_OTHER
        text = char.lower() if lower_case else char
        breaks = False
        if strip_accents:
            decomposed = unicodedata.normalize("NFD", text)
            text = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
            # A fully dropped character still ends a run of combining marks
            # (for NFD's canonical reordering) if it held a starter.
            breaks = not text and any(unicodedata.combining(c) == 0 for c in decomposed)
        if text == char:
            per_cp[cp] = record(
                True,
                _output_class(char, isolated),
                (),
                case,
                ccc=_reorder_class(char, strip_accents),
            )
        else:
            expansion = tuple(
                (ord(c), _output_class(c, isolated), _reorder_class(c, strip_accents)) for c in text
            )
            # U+03A3 gets a record of its own (tag) so it can be found by record id.
            tag = 1 if lower_case and cp == _CAPITAL_SIGMA else 0
            per_cp[cp] = record(False, SPACE, expansion, case, tag, breaks=breaks)
        if lower_case and cp == _CAPITAL_SIGMA:
            assert text == "\u03c3", text  # Non-final form; the final one is ς.
            sigma_record = per_cp[cp]
            final_sigma_record = record(
                False, SPACE, ((_SMALL_FINAL_SIGMA, NORMAL, 0),), _CASE_CASED, 2
            )

    blocks = per_cp.reshape(-1, _BLOCK_SIZE)
    unique_blocks, block_index = np.unique(blocks, axis=0, return_inverse=True)
    num_records = len(records)
    rec_identity = np.zeros(num_records, bool)
    rec_class = np.zeros(num_records, np.int32)
    rec_start = np.zeros(num_records, np.int32)
    rec_length = np.zeros(num_records, np.int32)
    rec_case = np.zeros(num_records, np.int32)
    rec_ccc = np.zeros(num_records, np.int32)
    rec_breaks = np.zeros(num_records, bool)
    for (identity, cls, start, length, case, _, ccc, breaks), rid in records.items():
        rec_identity[rid] = identity
        rec_class[rid] = cls
        rec_start[rid] = start
        rec_length[rid] = length
        rec_case[rid] = case
        rec_ccc[rid] = ccc
        rec_breaks[rid] = breaks
    return NormalizerTables(
        block_index=block_index.astype(np.int32).reshape(-1),
        block_records=unique_blocks.astype(np.int32).reshape(-1),
        rec_identity=rec_identity,
        rec_class=rec_class,
        rec_start=rec_start,
        rec_length=rec_length,
        rec_case=rec_case,
        rec_ccc=rec_ccc,
        rec_breaks=rec_breaks,
        exp_cp=np.asarray(exp_cp, np.int32),
        exp_class=np.asarray(exp_class, np.int32),
        exp_ccc=np.asarray(exp_ccc, np.int32),
        sigma_record=int(sigma_record),
        final_sigma_record=int(final_sigma_record),
    )


@dataclasses.dataclass
class NormalizedChars:
    """The normalized character stream of a batch, flat over all strings.

    Attributes:
      code_points: int32 `[num_chars]`, output code points.
      classes: int32 `[num_chars]`, word classes (SPACE, NORMAL, ISOLATED).
      row_ids: int64 `[num_chars]`, which input string each character is in.
      byte_starts: int64 `[num_chars]`, byte offset in the original string of
        the input character this one came from.
      byte_limits: int64 `[num_chars]`, the end of that input character.
    """

    code_points: tf.Tensor
    classes: tf.Tensor
    row_ids: tf.Tensor
    byte_starts: tf.Tensor
    byte_limits: tf.Tensor


def utf8_length(cps: tf.Tensor) -> tf.Tensor:
    """Bytes of each code point in UTF-8."""
    one = tf.ones_like(cps)
    return (
        one
        + tf.cast(cps >= 0x80, cps.dtype)
        + tf.cast(cps >= 0x800, cps.dtype)
        + tf.cast(cps >= 0x10000, cps.dtype)
    )


class Normalizer(tf.Module):
    """Reference-exact BERT normalization: strings -> normalized characters.

    Example (cased, so only cleaning, CJK and punctuation rules apply):

    >>> n = Normalizer(lower_case=False, strip_accents=False)
    >>> chars = n.normalize(tf.constant(["Hé\\u200bllo!"]))
    >>> tf.strings.unicode_encode(chars.code_points, "UTF-8").numpy().decode()
    'Héllo!'
    >>> chars.classes.numpy().tolist()
    [1, 1, 1, 1, 1, 2]
    """

    def __init__(
        self,
        lower_case: bool,
        strip_accents: bool,
        tokenize_chinese_chars: bool = True,
        name: str = "normalizer",
    ):
        super().__init__(name=name)
        self.lower_case = bool(lower_case)
        tables = build_tables(bool(lower_case), bool(strip_accents), bool(tokenize_chinese_chars))
        self._tables = tables
        self._block_index = tf.constant(tables.block_index)
        self._block_records = tf.constant(tables.block_records)
        self._rec_identity = tf.constant(tables.rec_identity)
        self._rec_class = tf.constant(tables.rec_class)
        self._rec_start = tf.constant(tables.rec_start)
        self._rec_length = tf.constant(tables.rec_length)
        self._rec_case = tf.constant(tables.rec_case)
        self._exp_cp = tf.constant(tables.exp_cp)
        self._exp_class = tf.constant(tables.exp_class)
        self._reorder = bool(tables.rec_ccc.any() or tables.exp_ccc.any())
        self._rec_ccc = tf.constant(tables.rec_ccc)
        self._rec_breaks = tf.constant(tables.rec_breaks)
        self._exp_ccc = tf.constant(tables.exp_ccc)

    def _final_sigma(self, records, row_ids):
        """Replaces the record of each U+03A3 in final-sigma context."""
        tables = self._tables
        is_sigma = tf.equal(records, tables.sigma_record)
        sigma_pos = tf.cast(tf.where(is_sigma)[:, 0], tf.int32)
        case = tf.gather(self._rec_case, records)
        anchor_pos = tf.cast(tf.where(case != _CASE_IGNORABLE)[:, 0], tf.int32)
        anchor_case = tf.gather(case, anchor_pos)
        anchor_row = tf.gather(row_ids, anchor_pos)
        num_anchors = tf.shape(anchor_pos)[0]
        sigma_row = tf.gather(row_ids, sigma_pos)
        # Last non-ignorable character before, first one after (same string).
        before = tf.searchsorted(anchor_pos, sigma_pos, side="left") - 1
        before_c = tf.maximum(before, 0)
        cased_before = (
            (before >= 0)
            & tf.equal(tf.gather(anchor_row, before_c), sigma_row)
            & tf.equal(tf.gather(anchor_case, before_c), _CASE_CASED)
        )
        after = tf.searchsorted(anchor_pos, sigma_pos, side="right")
        after_c = tf.minimum(after, tf.maximum(num_anchors - 1, 0))
        cased_after = (
            (after < num_anchors)
            & tf.equal(tf.gather(anchor_row, after_c), sigma_row)
            & tf.equal(tf.gather(anchor_case, after_c), _CASE_CASED)
        )
        final = cased_before & ~cased_after
        final_pos = tf.boolean_mask(sigma_pos, final)
        return tf.tensor_scatter_nd_update(
            records,
            final_pos[:, tf.newaxis],
            tf.fill(tf.shape(final_pos), tables.final_sigma_record),
        )

    def normalize(self, strings: tf.Tensor) -> NormalizedChars:
        """Normalizes a batch of strings.

        Args:
          strings: string `[batch]`. Invalid UTF-8 bytes are dropped, as the
            reference's `decode("utf-8", "ignore")` does.

        Returns:
          The `NormalizedChars` of the whole batch.
        """
        cps, starts = tf.strings.unicode_decode_with_offsets(strings, "UTF-8", errors="ignore")
        cp = cps.flat_values
        byte_start = starts.flat_values
        byte_limit = byte_start + tf.cast(utf8_length(cp), byte_start.dtype)
        row_ids = cps.value_rowids()
        block = tf.gather(self._block_index, tf.bitwise.right_shift(cp, _BLOCK_BITS))
        records = tf.gather(
            self._block_records, block * _BLOCK_SIZE + tf.bitwise.bitwise_and(cp, _BLOCK_SIZE - 1)
        )
        if self.lower_case:
            records = self._final_sigma(records, row_ids)

        lengths = tf.gather(self._rec_length, records)
        byte_limit = self._extend_over_deleted(byte_limit, lengths > 0, row_ids)
        n = tf.shape(cp, out_type=tf.int32)[0]
        src = tf.repeat(tf.range(n), lengths)
        first_out = tf.cumsum(lengths, exclusive=True)
        k = tf.range(tf.shape(src)[0]) - tf.gather(first_out, src)
        src_records = tf.gather(records, src)
        exp_index = tf.gather(self._rec_start, src_records) + k
        identity = tf.gather(self._rec_identity, src_records)
        out_cp = tf.where(identity, tf.gather(cp, src), tf.gather(self._exp_cp, exp_index))
        out_class = tf.where(
            identity, tf.gather(self._rec_class, src_records), tf.gather(self._exp_class, exp_index)
        )
        chars = NormalizedChars(
            code_points=out_cp,
            classes=out_class,
            row_ids=tf.gather(row_ids, src),
            byte_starts=tf.gather(byte_start, src),
            byte_limits=tf.gather(byte_limit, src),
        )
        if self._reorder:
            out_ccc = tf.where(
                identity, tf.gather(self._rec_ccc, src_records), tf.gather(self._exp_ccc, exp_index)
            )
            breaks = tf.cumsum(tf.cast(tf.gather(self._rec_breaks, records), tf.int32))
            chars = self._canonical_order(chars, out_ccc, tf.gather(breaks, src))
        return chars

    @staticmethod
    def _extend_over_deleted(byte_limit, kept, row_ids):
        """Each character's byte limit, extended over the deleted characters after it.

        A deleted character (a control or format character, an accent dropped
        by accent stripping) belongs to the span of the character before it in
        its row, so the wordpiece of `cafe\u0301` ends after the accent.

        >>> Normalizer._extend_over_deleted(
        ...     tf.constant([1, 2, 3, 4, 1], tf.int64), tf.constant([True, False, True, False, False]),
        ...     tf.constant([0, 0, 0, 0, 1], tf.int64)).numpy().tolist()
        [2, 2, 4, 4, 1]
        """
        previous_row = tf.concat([tf.constant([-1], row_ids.dtype), row_ids[:-1]], axis=0)
        owner = tf.cumsum(tf.cast(kept | (row_ids != previous_row), tf.int32)) - 1
        return tf.gather(tf.math.segment_max(byte_limit, owner), owner)

    def _canonical_order(self, chars, ccc, breaks):
        """NFD's canonical reordering of the kept marks (see `rec_ccc`).

        Marks that NFD may move are kept characters with a non-zero combining
        class; each run of them (no starter in between, dropped ones included)
        is stably sorted by class after its starter. Only runs with two or more
        such marks change, so the sort runs only when one exists.
        """

        def previous(x, fill):
            return tf.concat([tf.fill([1], tf.cast(fill, x.dtype)), x[:-1]], axis=0)

        continues = (
            (ccc > 0)
            & (previous(ccc, 0) > 0)
            & tf.equal(previous(chars.row_ids, -1), chars.row_ids)
            & tf.equal(previous(breaks, -1), breaks)
        )

        def reorder():
            joins = (
                (ccc > 0)
                & tf.equal(previous(chars.row_ids, -1), chars.row_ids)
                & tf.equal(previous(breaks, -1), breaks)
            )
            group = tf.cumsum(tf.cast(~joins, tf.int64))
            order = tf.argsort(group * 256 + tf.cast(ccc, tf.int64), stable=True)
            return [
                tf.gather(x, order)
                for x in (chars.code_points, chars.classes, chars.byte_starts, chars.byte_limits)
            ]

        def keep():
            return [chars.code_points, chars.classes, chars.byte_starts, chars.byte_limits]

        cp, cls, starts, limits = tf.cond(tf.reduce_any(continues), reorder, keep)
        return NormalizedChars(
            code_points=cp,
            classes=cls,
            row_ids=chars.row_ids,
            byte_starts=starts,
            byte_limits=limits,
        )
