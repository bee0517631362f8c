"""Real multilingual text found on this machine, for the parity tests.

Two corpora, read from system files at test time (nothing is copied into the
repo):

- `gettext`: translated messages (`msgstr`) of every `.mo` catalog under
  /usr/share/locale and /usr/lib: dozens of languages and scripts (Latin with
  diacritics, Cyrillic, Greek, CJK, Arabic, Hebrew, Indic, Thai, Georgian...),
  with the control characters, format strings and punctuation of real UI text.
- `docs`: man pages in 20 languages (/usr/share/man/<lang>), the X11 Compose
  tables (thousands of symbols, letters with stacked accents, dead-key
  sequences), and CPython's CJK codec test texts.

Lines are sampled deterministically (a fixed stride per file) so each corpus
has a few thousand lines across all of its files.
"""

from __future__ import annotations

import functools
import gettext
import glob
import gzip
import os
import random

_MO_GLOBS = (
    "/usr/share/locale/*/LC_MESSAGES/*.mo",
    "/usr/share/locale-langpack/*/LC_MESSAGES/*.mo",
    "/usr/share/vim/*/lang/*/LC_MESSAGES/*.mo",
)


def _sample(lines, k, rng):
    lines = [line for line in lines if line.strip()]
    if len(lines) <= k:
        return lines
    return rng.sample(lines, k)


def _mo_messages(path):
    try:
        with open(path, "rb") as f:
            catalog = gettext.GNUTranslations(f)
    except Exception:  # pylint: disable=broad-except  # Not a valid catalog.
        return []
    out = []
    # pylint: disable-next=protected-access
    for key, value in catalog._catalog.items():
        if key == "" or not isinstance(value, str):
            continue
        out.extend(value.split("\n"))
    return out


@functools.cache
def gettext_corpus(per_file: int = 8, limit: int = 6000) -> tuple[str, ...]:
    """Translated UI messages from every gettext catalog found."""
    rng = random.Random(1234)
    paths = set()
    for pattern in _MO_GLOBS:
        paths.update(glob.glob(pattern))
    lines = []
    for path in sorted(paths):
        lines.extend(_sample(_mo_messages(path), per_file, rng))
    rng.shuffle(lines)
    return tuple(lines[:limit])


def _read_text(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


@functools.cache
def docs_corpus(limit: int = 6000) -> tuple[str, ...]:
    """Man pages in many languages, X11 Compose tables, CJK codec test texts."""
    rng = random.Random(5678)
    groups = []
    man = sorted(
        p
        for p in glob.glob("/usr/share/man/*/man*/*")
        if not os.path.basename(os.path.dirname(os.path.dirname(p))).startswith("man")
    )
    groups.append((man, 6))
    compose = sorted(glob.glob("/usr/share/X11/locale/*UTF-8/Compose"))
    groups.append((compose, 400))
    cjk = sorted(
        glob.glob("/root/.pyenv/versions/*/lib/python3*/test/cjkencodings/*-utf8.txt")
        + glob.glob("/usr/lib/python3*/test/cjkencodings/*-utf8.txt")
    )
    groups.append((cjk, 40))
    lines = []
    for paths, per_file in groups:
        for path in paths:
            lines.extend(_sample(_read_text(path), per_file, rng))
    rng.shuffle(lines)
    return tuple(lines[:limit])
