"""Real English text for the benchmarks, found on this machine (no downloads).

Sources: the Python reference documentation that ships with every CPython
(`pydoc_data.topics`) and the license texts in `/usr/share/common-licenses`
when present. The text is split into sentences and shuffled with a fixed seed,
so every run sees the same mixed-length lines (a few words up to a paragraph).
"""

from __future__ import annotations

import pathlib
import random
import re

_LICENSES = pathlib.Path("/usr/share/common-licenses")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_WORD = re.compile(r"[A-Za-z]{2,}")


def _documents() -> list[str]:
    import pydoc_data.topics

    docs = list(pydoc_data.topics.topics.values())
    if _LICENSES.is_dir():
        for path in sorted(_LICENSES.iterdir()):
            if path.is_file():
                docs.append(path.read_text(encoding="utf-8", errors="replace"))
    return docs


def _paragraphs(doc: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc)]


def sentences(limit: int | None = None, *, seed: int = 0) -> list[str]:
    """Prose sentences of mixed length, deduplicated, in a fixed shuffled order.

    Args:
      limit: return at most this many.
      seed: the shuffle's seed.

    Returns:
      A list of `str`, each a sentence with at least three words of letters.
    """
    seen: set[str] = set()
    out: list[str] = []
    for doc in _documents():
        for para in _paragraphs(doc):
            for sent in _SENTENCE_END.split(para):
                sent = sent.strip()
                if len(_WORD.findall(sent)) >= 3 and sent not in seen:
                    seen.add(sent)
                    out.append(sent)
    random.Random(seed).shuffle(out)
    return out[:limit] if limit is not None else out
