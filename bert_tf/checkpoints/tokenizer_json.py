"""A Hugging Face `tokenizer.json` as a WordPiece vocab and BERT normalizer settings.

Folders saved by sentence-transformers 6 (and many recent hub repositories)
ship `tokenizer.json` but no `vocab.txt`. `read_tokenizer_json(path)` reads
the WordPiece vocabulary (token -> id) and the `BertNormalizer` settings from
it; `write_vocab(tokens)` writes the vocab as a `vocab.txt` the preprocessing
model takes. A tokenizer that is not WordPiece is a one-line `CheckpointError`.

Imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import tempfile

from bert_tf.checkpoints.json_files import read_json
from bert_tf.errors import CheckpointError

TOKENIZER_JSON = "tokenizer.json"


@dataclasses.dataclass(frozen=True)
class TokenizerJson:
    """What a `tokenizer.json` says about a BERT tokenizer.

    Attributes:
        path: the file.
        tokens: the vocab; a token's id is its index.
        lowercase: the normalizer's `lowercase`.
        strip_accents: its `strip_accents` (None: follows `lowercase`).
        tokenize_chinese_chars: its `handle_chinese_chars`.
    """

    path: str
    tokens: tuple[str, ...]
    lowercase: bool
    strip_accents: bool | None
    tokenize_chinese_chars: bool


def read_tokenizer_json(path: str | os.PathLike) -> TokenizerJson:
    """Reads the WordPiece vocab and normalizer of a `tokenizer.json`.

    Raises:
        CheckpointError: unreadable, not WordPiece, a normalizer other than
            `BertNormalizer`, or ids that are not 0..n-1.
    """
    path = os.fspath(path)
    data = read_json(path, "tokenizer")
    model = data.get("model") if isinstance(data, dict) else None
    kind = model.get("type") if isinstance(model, dict) else None
    if kind != "WordPiece":
        raise CheckpointError(
            f"{path}: model.type: expected a WordPiece tokenizer (BERT), found {kind!r}"
        )
    prefix = model.get("continuing_subword_prefix", "##")
    if prefix != "##":
        raise CheckpointError(
            f"{path}: model.continuing_subword_prefix: expected '##', found {prefix!r}"
        )
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab:
        raise CheckpointError(f"{path}: model.vocab: expected a non-empty object token -> id")
    tokens = sorted(vocab, key=vocab.__getitem__)
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise CheckpointError(f"{path}: model.vocab: expected the ids 0..{len(tokens) - 1}")
    normalizer = data.get("normalizer") or {}
    if normalizer.get("type") not in (None, "BertNormalizer"):
        raise CheckpointError(
            f"{path}: normalizer.type: expected BertNormalizer, found {normalizer.get('type')!r}"
        )
    return TokenizerJson(
        path=path,
        tokens=tuple(tokens),
        lowercase=bool(normalizer.get("lowercase", True)),
        strip_accents=normalizer.get("strip_accents"),
        tokenize_chinese_chars=bool(normalizer.get("handle_chinese_chars", True)),
    )


def write_vocab(tokens: tuple[str, ...], folder: str | os.PathLike | None = None) -> pathlib.Path:
    """Writes `tokens` as a `vocab.txt` (one per line); returns its path.

    Args:
        tokens: the vocab in id order.
        folder: where to write; None: a content-addressed file in the temp
            folder (the same vocab always gives the same path).
    """
    from bert_tf import atomic

    text = "".join(token + "\n" for token in tokens)
    if folder is None:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        folder = pathlib.Path(tempfile.gettempdir()) / f"bert-tf-vocab-{digest}"
        folder.mkdir(exist_ok=True)
    path = pathlib.Path(folder) / "vocab.txt"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        with atomic.atomic_file(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return path
