"""Ids identical to google-research/bert (and HF flag semantics).

Hard cases for every setting and vocab, then corpus parity on real
multilingual text. Figures (identical / total) are printed with `-s`.
"""

from __future__ import annotations

import unicodedata

import pytest
from helpers import SETTINGS, describe, parity

HARD_CASES = [
    # ASCII, casing, punctuation.
    "Hello, World! The quick brown fox jumps over the lazy dog.",
    "unaffable UNAFFABLE Unaffable",
    "a.b,c;d:e!f?g'h\"i(j)k[l]m{n}o<p>q/r\\s|t~u`v^w$x%y&z*+-=_#@",
    # NFKC folding differences: full-width, ligatures, sharp s, superscripts.
    "ＡＢＣ ａｂｃ １２３ ﬁﬂ ﬃ Straße STRASSE ß ẞ x² H₂O ½ ™ ℌ",
    # Unicode whitespace: NBSP, thin space, ideographic space, line separators.
    "a\u00a0b\u2009c\u3000d\u2028e\u2029f\u202fg\u205fh\u1680i",
    "tab\tnew\nline\rcr\x0bvt\x0cff\x1cfs\x1dgs\x1ers\x1fus\x85nel",
    # Deleted characters: zero-width space / joiners, soft hyphen, NUL, FFFD.
    "zero\u200bwidth soft\u00adhyphen nul\x00byte rep\ufffdlace "
    "bom\ufeffmark zw\u200cnj\u200dj lrm\u200e rlo\u202ex \x7fdel \x01ctl",
    # Emoji (with skin tone, ZWJ sequences, flags, keycaps).
    "emoji 😀 👍🏽 👨‍👩‍👧 🇫🇷 1️⃣ ❤️ done",
    # Combining marks: precomposed vs decomposed, stacked, lone.
    "café cafe\u0301 naïve nai\u0308ve Ǖ u\u0308\u0304 \u0301alone x\u0336\u0336",
    "Ǆ ǅ ǆ Ǳ İstanbul ISTANBUL ı i̇ Kelvin\u212a Ohm\u2126 Å",
    "ΟΔΟΣ ΟΔΟΣ. ΣΑΣ Σ σΣ ΑΣ\u0301 ΑΣ\u00ad Ά\u0345Σ ὈΔΥΣΣΕΎΣ ΣΣΣ ΑΣ1 ΑΣΑ",
    # Scripts.
    "ภาษาไทยเป็นภาษาที่มีวรรณยุกต์",
    "한국어 텍스트 처리 가나다라 ㄱㄴㄷ 각",
    "العربية: مرحبًا بالعالم، كيف حالك؟",
    "עברית: שָׁלוֹם עוֹלָם",
    "हिन्दी भाषा देवनागरी लिपि में लिखी जाती है।",
    "ქართული ენა Ελληνικά Русский язык ЁЖИК ёжик Қазақ",
    "中文字符测试，汉字！日本語のテキスト、カタカナ ﾊﾝｶｸ 𠀀𪜀 豈 更 兀",
    "mixed中文English한국어العربيةΕλληνικά",
    # Literal special tokens are plain text for the reference.
    "[MASK] [CLS] [SEP] [UNK] [PAD] [unused0] ##ing",
    # Empty and whitespace-only.
    "",
    " ",
    "   \t\n\r  ",
    "\u3000\u00a0\u2028",
    "\u200b\u00ad\x00",
    # Word length limit (200 code points after normalization).
    "a" * 199,
    "a" * 200,
    "a" * 201,
    "é" * 200,
    "é" * 201,
    "x " + "ab" * 100 + " y",
    "İ" * 150,
    "Ａ" * 201,
    # Characters that normalize into punctuation or several characters.
    "a\u1fefb a\u037eb ﬀ ŉ ǰ ẖ ﬓ",
    # Symbols, math, private use, unassigned, non-characters.
    "∑∫√∞ ≠≤≥ ←→ ♠♥ ☃ ⅓ ℃ \ue000\U000f0000 \U0001fbff \ufdd0\uffff",
    # Supplementary CJK extension blocks and compatibility ideographs.
    "\U00020000\U0002a700\U0002b740\U0002b820\U0002f800 \uf900\ufa6a",
]

VOCABS = ["uncased_vocab_file", "cased_vocab_file"]


@pytest.mark.parametrize("vocab_name", VOCABS)
@pytest.mark.parametrize("settings_name", sorted(SETTINGS))
def test_hard_cases_identical(request, make_tokenizer, vocab_name, settings_name):
    vocab_file = request.getfixturevalue(vocab_name)
    ours, ref = make_tokenizer(vocab_file, settings_name)
    cases = HARD_CASES
    if ref.is_huggingface:  # See ReferenceTokenizer.comparable.
        cases = [unicodedata.normalize("NFC", c) for c in cases]
        cases = [c for c in cases if ref.comparable(c)]
        assert len(cases) == len(HARD_CASES) - 1
    identical, mismatches = parity(ours, ref, cases)
    assert not mismatches, (
        f"{settings_name} / {vocab_name}: {identical}/{len(cases)} "
        f"identical\n" + describe(mismatches, ours.vocab)
    )


def test_invalid_utf8_like_reference(make_tokenizer, uncased_vocab_file):
    """Invalid bytes are dropped, as the reference's decode('utf-8', 'ignore')."""
    ours, ref = make_tokenizer(uncased_vocab_file, "uncased")
    lines = [
        b"ab\xffcd",
        b"\xc3",
        b"caf\xc3",
        b"\xe2\x82 x",
        b"\xf0\x9f\x98A",
        b"\xed\xa0\x80z",
        b"\xc0\xafq",
        b"ok \x80\x80 ok",
        b"\xf4\x90\x80\x80w",
        b"\xe0\x80\x80x",
        b"\xf8\x88\x80\x80\x80y",
        b"\xef\xbf\xbd!",
        b"a\xcc",
    ]
    identical, mismatches = parity(ours, ref, lines)
    assert not mismatches, describe(mismatches, ours.vocab)
    assert identical == len(lines)


# Corpus parity: uncased on the real MiniLM vocab, cased on a vocab derived
# from the text; the Hugging Face flag settings on the MiniLM vocab.
CORPUS_RUNS = [
    ("uncased", "uncased_vocab_file"),
    ("cased", "cased_vocab_file"),
    ("cased", "uncased_vocab_file"),
    ("hf_lower_keep_accents", "uncased_vocab_file"),
    ("hf_cased_strip_accents", "cased_vocab_file"),
    ("hf_uncased_no_cjk", "uncased_vocab_file"),
]


@pytest.mark.parametrize("corpus", ["gettext", "docs"])
@pytest.mark.parametrize("settings_name,vocab_name", CORPUS_RUNS)
def test_corpus_parity(request, make_tokenizer, corpus_lines, corpus, settings_name, vocab_name):
    vocab_file = request.getfixturevalue(vocab_name)
    ours, ref = make_tokenizer(vocab_file, settings_name)
    lines = corpus_lines[corpus]
    if ref.is_huggingface:
        # See ReferenceTokenizer.comparable: NFC the text, leave out the few
        # lines with private-use / unassigned characters.
        lines = [unicodedata.normalize("NFC", line) for line in lines]
        lines = [line for line in lines if ref.comparable(line)]
        assert len(lines) >= 0.95 * len(corpus_lines[corpus])
    identical, mismatches = parity(ours, ref, lines)
    print(f"\nparity {corpus} {settings_name} ({vocab_name}): {identical}/{len(lines)} identical")
    assert identical == len(lines), describe(mismatches, ours.vocab)


def _random_text(rng, assigned, length):
    """Random text: any assigned code point, dense in the tricky ones."""
    tricky = (
        "\u03a3\u0130\u0345\u0301\u0020\u00a0\u2028\u200b\u00ad\u0000"
        "\ufffd\u1fef\u03c3.A\u4e00\uf900\uac00\t\u3000\u02bc'"
        "\U0001d165\U0001d16d\ua9c0\u302e\u0f71\u0e48"
    )
    out = []
    for _ in range(length):
        r = rng.random()
        if r < 0.3:
            out.append(rng.choice(tricky))
        elif r < 0.5:
            out.append(rng.choice("abcXYZ ΣΑΒ"))
        elif r < 0.6:
            out.append(chr(rng.randint(0, 0x2FF)))
        else:
            out.append(chr(rng.choice(assigned)))
    return "".join(out)


@pytest.mark.parametrize("settings_name", ["uncased", "cased"])
def test_random_unicode_parity(make_tokenizer, uncased_vocab_file, settings_name):
    import random

    rng = random.Random(20261122)
    assigned = [
        c
        for c in range(0x110000)
        if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) != "Cn"
    ]
    lines = [_random_text(rng, assigned, rng.randint(0, 40)) for _ in range(5000)]
    ours, ref = make_tokenizer(uncased_vocab_file, settings_name)
    identical, mismatches = parity(ours, ref, lines)
    print(f"\nparity random-unicode {settings_name}: {identical}/{len(lines)}")
    assert identical == len(lines), describe(mismatches, ours.vocab)


@pytest.mark.parametrize("settings_name", ["uncased", "cased", "hf_cased_strip_accents"])
def test_canonical_reordering(tmp_path, settings_name):
    """NFD sorts a run of marks by combining class; Mn ones are then dropped,
    non-Mn ones (here musical stems, classes 226 and 216) keep the new order."""
    import preprocess_reference as reference
    from helpers import SETTINGS, SPECIAL_TOKENS, write_vocab

    from bert_tf.preprocess import BertTokenizer, TokenizerSettings

    stem, flag = "\U0001d165", "\U0001d16d"  # ccc 216, ccc 226
    tokens = SPECIAL_TOKENS + [
        "x",
        "é",
        "e",
        flag,
        "##" + stem,
        "##" + flag,
        "##" + stem + flag,
        "##" + flag + stem,
    ]
    vocab = write_vocab(tmp_path / "vocab.txt", tokens)
    kwargs = SETTINGS[settings_name]
    ours = BertTokenizer(vocab, TokenizerSettings(**kwargs))
    ref = reference.ReferenceTokenizer(tokens, kwargs["do_lower_case"], kwargs.get("strip_accents"))
    lines = [
        "x" + flag + stem,
        "x" + flag + "\u0301" + stem,
        "x" + flag + "\u0f71" + stem + " X" + flag + stem,
        flag + " " + stem,
        "x" + flag + "é" + stem,
        "x" + flag + "\u200b" + stem,
        "e\u0301" + flag + stem,
    ]
    identical, mismatches = parity(ours, ref, lines)
    assert identical == len(lines), describe(mismatches, tokens)
