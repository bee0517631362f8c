"""The repository as a newcomer meets it: docstring examples, generated docs, the wheel."""

from __future__ import annotations

import configparser
import doctest
import importlib
import importlib.util
import pathlib
import pkgutil
import shutil
import subprocess
import sys
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def _packages() -> list[str]:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config["options"]["packages"].split()


def _modules() -> list[str]:
    """Every module of the installed `bert_tf` namespace (the mapped folders too)."""
    names = set()
    for package in _packages():
        names.add(package)
        path = importlib.import_module(package).__path__
        names.update(info.name for info in pkgutil.iter_modules(path, f"{package}."))
    return sorted(name for name in names if not name.endswith("__main__"))


def _has_examples(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    return ">>> " in pathlib.Path(spec.origin).read_text(encoding="utf-8")


EXAMPLE_MODULES = [name for name in _modules() if _has_examples(name)]


def test_the_examples_cover_the_contract_modules():
    for name in ("bert_tf.interface", "bert_tf.atomic", "bert_tf.cli.command", "bert_tf.lazy"):
        assert name in EXAMPLE_MODULES


@pytest.mark.parametrize("module", EXAMPLE_MODULES)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    skipped_only = (
        "doctest: +SKIP" in pathlib.Path(importlib.util.find_spec(module).origin).read_text()
    )
    assert result.attempted > 0 or skipped_only


def test_cli_reference_is_generated_from_the_commands():
    from bert_tf.cli import reference

    page = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert page == reference.render(), "run: python -m bert_tf.cli.reference > docs/cli.md"


def test_importing_the_package_does_not_import_tensorflow():
    probe = (
        "import sys, bert_tf, bert_tf.interface, bert_tf.cli, bert_tf.export, bert_tf.embedding; "
        "assert 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)


def test_wheel_installs_only_the_bert_tf_namespace(tmp_path):
    # Build from a copy of the tracked files: setuptools writes build/ beside its input.
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    source = tmp_path / "source"
    for name in filter(None, tracked.split("\0")):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            tmp_path / "dist",
            source,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("bert_tf-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"bert_tf"}
    for package in _packages():
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    assert "bert_tf/configs/all-MiniLM-L6-v2.json" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ("bert-tf-export", "bert-tf-embed", "bert-tf-finetune", "bert-tf-inspect"):
        assert f"{script} = bert_tf.cli." in scripts
