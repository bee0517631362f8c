"""Measures the ASCII fast path proposed for `preprocess` (docs/readme/perf-requests.md).

Lines that are printable ASCII (plus tab, newline, carriage return) need none
of the reference normalizer's Unicode work: lower-casing is `str.lower`,
accent stripping and CJK splitting do nothing, no control character is
present. For them, tf-text's `FastWordpieceTokenizer` with its own BERT
pre-tokenization (whitespace and punctuation splitting) and
`max_bytes_per_word=200` (the reference's 200-character [UNK] rule, 1 byte per
character in ASCII) gives the reference's ids. Other lines keep the exact path.

This script checks that the hybrid equals our exact tokenizer
(`ascii_fast_path=False`) on the bench corpus plus edge cases, then times
both, interleaved, next to the product's own fast path (`preprocess`
adopted the idea as `BertTokenizer(..., ascii_fast_path=True)`, the default).

Run:
  .venv/bin/python -m bench.experiments.ascii_fast_path
"""

from __future__ import annotations

from bench import harness

harness.quiet_environment()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text as text  # noqa: E402

from bench import corpus, models  # noqa: E402
from preprocess import TokenizerSettings  # noqa: E402
from preprocess import tokenizer as tokenizer_lib  # noqa: E402

SIMPLE_LINE = "[\\x20-\\x7e\\t\\n\\r]*"
EDGE_CASES = ["Hello,World!!", "a" * 199 + " " + "b" * 201, "don't stop--ever...", "tab\there",
              "x\x01y", "A.B.C. 3.14 $5 #tag @user ~tilde `q` {x} [y] |z|", "", "   ",
              "UPPER lower MiXeD", "caf\u00e9 na\u00efve"]


def build(vocab_file: str):
    settings = TokenizerSettings(do_lower_case=True)
    exact_tokenizer = tokenizer_lib.BertTokenizer(vocab_file, settings, ascii_fast_path=False)
    product_tokenizer = tokenizer_lib.BertTokenizer(vocab_file, settings)
    fast = text.FastWordpieceTokenizer(
        vocab=tokenizer_lib._wordpiece_vocab(exact_tokenizer.vocab),  # pylint: disable=protected-access
        suffix_indicator="##", token_out_type=tf.int32, unknown_token="[UNK]",
        no_pretokenization=False, support_detokenization=False, max_bytes_per_word=200)
    spec = [tf.TensorSpec([None], tf.string)]

    @tf.function(input_signature=spec)
    def exact(strings):
        return exact_tokenizer.tokenize(strings).merge_dims(1, 2)

    @tf.function(input_signature=spec)
    def hybrid(strings):
        simple = tf.strings.regex_full_match(strings, SIMPLE_LINE)
        index = tf.range(tf.shape(strings, out_type=tf.int64)[0])
        fast_index, slow_index = tf.boolean_mask(index, simple), tf.boolean_mask(index, ~simple)
        fast_ids = fast.tokenize(tf.strings.lower(tf.gather(strings, fast_index)))
        slow_ids = exact_tokenizer.tokenize(tf.gather(strings, slow_index)).merge_dims(1, 2)
        both = tf.concat([fast_ids, slow_ids], 0)
        return tf.gather(both, tf.math.invert_permutation(tf.concat([fast_index, slow_index], 0)))

    @tf.function(input_signature=spec)
    def product(strings):
        return product_tokenizer.tokenize(strings).merge_dims(1, 2)

    return exact, hybrid, product


def main() -> None:
    lines = corpus.sentences()
    exact, hybrid, product = build(str(models.minilm_path() / "vocab.txt"))
    batches = [tf.constant(lines[i:i + 256]) for i in range(0, len(lines), 256)]
    different = [s for b in batches + [tf.constant(EDGE_CASES)]
                 for s, x, y in zip(b.numpy(), hybrid(b).to_list(), exact(b).to_list()) if x != y]
    ascii_share = np.mean([all(" " <= c <= "~" or c in "\t\n\r" for c in s) for s in lines])
    print(f"lines whose ids differ: {len(different)} of {len(lines) + len(EDGE_CASES)} "
          f"(printable-ASCII lines: {ascii_share:.1%}) {different[:3]}")
    timings = harness.measure_interleaved(
        {"exact": lambda: [exact(b).flat_values.numpy() for b in batches],
         "hybrid": lambda: [hybrid(b).flat_values.numpy() for b in batches],
         "product": lambda: [product(b).flat_values.numpy() for b in batches]},
        warmup=1, repeats=3, budget_s=15)
    rates = {k: len(lines) / t.median_s for k, t in timings.items()}
    print(f"exact {rates['exact']:.0f} lines/s, hybrid {rates['hybrid']:.0f} lines/s "
          f"({rates['hybrid'] / rates['exact']:.2f}x), product fast path "
          f"{rates['product']:.0f} lines/s ({rates['product'] / rates['exact']:.2f}x)")


if __name__ == "__main__":
    main()
