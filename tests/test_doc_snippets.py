"""Every Python snippet of the README and the usage pages runs as written.

(docs/export.md, finetune.md and tokenizer.md sketch the library API with
placeholder paths; the tests of each package cover those calls.)

Each block runs in a fresh interpreter from a folder that holds what `make demo`
and the README's fine-tuning command leave behind: `exports/all-MiniLM-L6-v2`
(the real export) and `runs/mnli/classifier` (a short fine-tuning run on it).
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/interface.md", "docs/embedding.md")
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def _snippets() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        path = REPO / page
        if path.exists():
            text = path.read_text(encoding="utf-8")
            for number, block in enumerate(_BLOCK.findall(text), start=1):
                found.append((f"{page}#{number}", block))
    return found


SNIPPETS = _snippets()


def test_the_readme_has_its_snippets():
    pages = {name.split("#")[0] for name, _ in SNIPPETS}
    assert {"README.md", "docs/interface.md"} <= pages


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, minilm_export_dir) -> pathlib.Path:
    """A folder laid out as after `make demo` and the README's fine-tuning run."""
    from bert_tf.finetune import nli
    from bert_tf.finetune.config import TrainConfig

    root = tmp_path_factory.mktemp("readme")
    (root / "exports").mkdir()
    os.symlink(minilm_export_dir, root / "exports" / "all-MiniLM-L6-v2")
    train = root / "train.tsv"
    pairs = [
        ("A dog runs in the park.", "An animal is outside.", "entailment"),
        ("A man sleeps.", "The man is running a marathon.", "contradiction"),
        ("Two kids play chess.", "The kids are brothers.", "neutral"),
    ]
    train.write_text("".join("\t".join(row) + "\n" for row in pairs * 6), encoding="utf-8")
    config = TrainConfig(seq_length=32, batch_size=6, steps=2, progress=False)
    nli.finetune_nli(root / "exports" / "all-MiniLM-L6-v2", train, root / "runs" / "mnli", config)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name, code", SNIPPETS, ids=[name for name, _ in SNIPPETS])
def test_snippet_runs_as_written(name, code, workdir):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_USE_LEGACY_KERAS", None)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{name}:\n{code}\n{result.stderr[-3000:]}"
