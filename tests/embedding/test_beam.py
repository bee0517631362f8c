"""Corpus embedding on Apache Beam (`bert_tf.embedding.beam`, `bert-tf-embed --runner`).

The pipeline runs on the DirectRunner with two worker processes
(`--direct_num_workers=2 --direct_running_mode=multi_processing`) over three
files with empty lines, multilingual text, CRLF endings, a missing final
newline and a gzip file: every line comes out exactly once, with its source
and 0-based line number, and its vector equals the in-process path's
(`embed_file`, `bert_tf.embed`) within 1e-6. Bad input goes through the
installed console script: one `error:` line, exit status 1, no shards; with
`--skip_bad_lines`, the dead-letter file and the count.
"""

from __future__ import annotations

import gzip
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("apache_beam")

from bert_tf.cli.embed import COMMAND  # noqa: E402
from bert_tf.embedding import EmbedError, embed, embed_file  # noqa: E402
from bert_tf.embedding import beam as beam_lib  # noqa: E402

MULTI_PROCESS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")

PLAIN = [
    "A man is eating food.",
    "",
    "东京是日本的首都。",
    "Über-fast Zürich trams don't wait for anyone.",
    "Привет, как дела?",
    "",
    "The quick brown fox jumps over the lazy dog near the riverbank at dawn, "
    "long enough to be a batch of its own length.",
]
CRLF = ["مرحبا بالعالم", "", "I love this movie 😊", "last line, no newline"]
ZIPPED = ["compressed one", "", "ελληνικά κείμενα", "नमस्ते दुनिया"]
RECORDS = [
    {"id": 1, "text": "A man is eating food."},
    None,  # an empty line: the empty text
    {"text": "Résumé écrit à Montréal", "lang": "fr"},
    {"text": ""},
    {"text": "한국어 문장입니다."},
]


def _corpus(folder: pathlib.Path) -> dict[str, list[str]]:
    """Three text files; path -> the texts of its lines."""
    folder.mkdir()
    plain, crlf, zipped = folder / "plain.txt", folder / "crlf.txt", folder / "zipped.txt.gz"
    plain.write_text("\n".join(PLAIN) + "\n", encoding="utf-8")
    crlf.write_bytes("\r\n".join(CRLF).encode())
    zipped.write_bytes(gzip.compress(("\n".join(ZIPPED) + "\n").encode()))
    return {str(plain): PLAIN, str(crlf): CRLF, str(zipped): ZIPPED}


def _rows(prefix: pathlib.Path) -> list[dict]:
    import pyarrow.parquet as pq

    shards = sorted(prefix.parent.glob(prefix.name + "-*-of-*.parquet"))
    assert shards, f"no shards {prefix}-*"
    return [row for shard in shards for row in pq.read_table(shard).to_pylist()]


def _vectors(rows: list[dict]) -> np.ndarray:
    return np.array([row["embedding"] for row in rows], np.float32)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [pathlib.Path(sys.executable).parent / "bert-tf-embed", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        timeout=600,
    )


def _shards(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- Without a model ------------------------------------------------------------------


def test_unknown_flags_pass_to_beam_only_with_runner():
    parsed = {}
    command = type(COMMAND)(
        COMMAND.name,
        COMMAND.doc,
        lambda args: parsed.update(vars(args)),
        flags=COMMAND.flags,
        defaults=COMMAND.defaults,
        passthrough_flag="runner",
    )
    base = ["bert-tf-embed", "--export_dir=e", "--input=i", "--output=o"]
    assert (
        command([*base, "--runner=DirectRunner", "--project", "p", "--direct_num_workers=2"]) == 0
    )
    assert parsed["runner"] == "DirectRunner"
    assert parsed["extra_args"] == ["--project", "p", "--direct_num_workers=2"]
    assert command([*base, "--keep_text", "--runner=DataflowRunner"]) == 0
    assert parsed["keep_text"] is True and parsed["extra_args"] == []
    # Without --runner: the error the command always gave.
    assert command([*base, "--direct_num_workers=2"]) == 1


def test_without_runner_unknown_and_beam_only_flags_fail_as_usage_errors(tmp_path):
    done = _cli("--export_dir=e", "--input=i", "--output=o", "--direct_num_workers=2")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "error: Unknown command line flag 'direct_num_workers' (see --help)"
    )
    done = _cli("--export_dir=e", "--input=i", "--output=o", "--keep_text", "--num_shards=2")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "error: --keep_text and --num_shards need --runner (see --help)"
    )


def test_pipeline_options_refuse_what_beam_would_drop():
    options = beam_lib.pipeline_options(["--direct_num_workers=2", "--job_name", "j"])
    assert options.get_all_options()["direct_num_workers"] == 2
    with pytest.raises(EmbedError, match=r"^unknown flag --direct_num_wrkers: neither"):
        beam_lib.pipeline_options(["--direct_num_wrkers=2"])


def test_direct_runner_workers_share_the_cores():
    cores = os.cpu_count() or 1
    two = beam_lib.pipeline_options(MULTI_PROCESS)
    assert beam_lib._threads_per_worker("DirectRunner", two) == max(1, cores // 2)
    assert beam_lib._threads_per_worker("DataflowRunner", two) is None
    assert beam_lib._threads_per_worker("DirectRunner", beam_lib.pipeline_options()) is None


def test_worker_errors_become_one_line():
    text = (
        "Traceback (most recent call last):\n  File ...\n"
        "bert_tf.embedding.options.EmbedError: /data/in.jsonl:7: not a JSON line "
        "(Expecting value at column 3) [while running 'ReadLines']\n"
    )
    error = beam_lib._worker_error(RuntimeError(text))
    assert str(error) == "/data/in.jsonl:7: not a JSON line (Expecting value at column 3)"
    same_process = EmbedError("/d/x.txt:1: not valid UTF-8 [while running 'ReadLines']")
    assert str(beam_lib._worker_error(same_process)) == "/d/x.txt:1: not valid UTF-8"
    assert beam_lib._worker_error(RuntimeError("something else")) is None


def test_remote_exports_are_staged_through_gfile(minilm_export_dir):
    # A URL, read through tf.io.gfile as gs:// would be (ram:// lists
    # `assets.extra/` as `assets/.extra`, so it cannot stand in here).
    local = pathlib.Path(beam_lib._staged_export(f"file://{minilm_export_dir}"))
    assert local != minilm_export_dir
    copied = sorted(str(p.relative_to(local)) for p in local.rglob("*"))
    original = sorted(str(p.relative_to(minilm_export_dir)) for p in minilm_export_dir.rglob("*"))
    assert copied == original and "encoder/variables/variables.index" in copied
    assert beam_lib._staged_export(str(minilm_export_dir)) == str(minilm_export_dir)
    with pytest.raises(EmbedError, match="not found"):
        beam_lib._staged_export(f"file://{minilm_export_dir}/nope")
    with pytest.raises(EmbedError, match=r"hdfs://nn:1/e: cannot read \(File system scheme"):
        beam_lib._staged_export("hdfs://nn:1/e")  # TensorFlow 2.21 without tensorflow-io


# --- The pipeline on the real MiniLM export -------------------------------------------


@pytest.mark.slow
def test_two_worker_processes_embed_every_line_once(minilm_export_dir, tmp_path):
    import pyarrow.parquet as pq

    corpus = _corpus(tmp_path / "corpus")
    prefix = tmp_path / "out" / "vectors"
    prefix.parent.mkdir()
    result = beam_lib.embed_corpus(
        str(tmp_path / "corpus" / "*"),
        str(prefix),
        minilm_export_dir,
        pipeline_args=MULTI_PROCESS,
        keep_text=True,
        batch_size=3,
        chunk_lines=4,  # several RunInference batches, each sorted and batched
        num_shards=2,
    )
    expected = {
        (source, i): text for source, texts in corpus.items() for i, text in enumerate(texts)
    }
    rows = sorted(_rows(prefix), key=lambda r: (r["source"], r["line"]))
    assert [(r["source"], r["line"]) for r in rows] == sorted(expected)  # each exactly once
    assert [r["text"] for r in rows] == [expected[r["source"], r["line"]] for r in rows]
    assert (result.count, result.bad_lines, len(result.shards)) == (len(expected), 0, 2)
    schema = pq.read_schema(result.shards[0])
    assert schema.names == ["source", "line", "embedding", "text"]
    assert [str(t) for t in schema.types] == ["string", "int64", "list<element: float>", "string"]
    assert _shards(prefix.parent) == [
        "vectors-00000-of-00002.parquet",
        "vectors-00001-of-00002.parquet",
    ]
    vectors = _vectors(rows)
    assert vectors.shape == (len(expected), 384)
    reference = embed([r["text"] for r in rows], minilm_export_dir)
    np.testing.assert_allclose(vectors, reference, rtol=0, atol=1e-6)
    # A second run would leave these beside its own (of another count): refused.
    with pytest.raises(EmbedError, match=r"vectors-00000-of-00002\.parquet exists \(an earlier"):
        beam_lib.embed_corpus(str(tmp_path / "corpus" / "*"), str(prefix), minilm_export_dir)
    for source in (s for s in corpus if not s.endswith(".gz")):  # the in-process file path
        in_process = tmp_path / "in_process.npy"
        embed_file(source, in_process, minilm_export_dir)
        ours = _vectors([r for r in rows if r["source"] == source])
        np.testing.assert_allclose(ours, np.load(in_process), rtol=0, atol=1e-6)


@pytest.mark.slow
def test_the_command_embeds_json_lines_like_in_process(minilm_export_dir, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    sources = []
    for index in range(3):
        path = folder / f"part{index}.jsonl"
        records = RECORDS[index:] + RECORDS[:index]
        path.write_text(
            "\n".join("" if r is None else json.dumps(r, ensure_ascii=False) for r in records)
            + "\n",
            encoding="utf-8",
        )
        sources.append(path)
    prefix = tmp_path / "out" / "docs"
    prefix.parent.mkdir()
    done = _cli(
        "--runner=DirectRunner",
        f"--export_dir={minilm_export_dir}",
        f"--input={folder}/*.jsonl",
        f"--output={prefix}",
        "--json_field=text",
        "--pooling=cls",
        "--max_seq_length=16",
    )
    assert done.returncode == 0, done.stderr
    lines = 3 * len(RECORDS)
    assert done.stdout.startswith(f"Wrote {lines} float32 vectors to ")
    assert "Traceback" not in done.stderr and "sdk_worker" not in done.stderr  # workers kept quiet
    rows = _rows(prefix)
    assert "text" not in rows[0]
    for path in sources:
        mine = sorted((r for r in rows if r["source"] == str(path)), key=lambda r: r["line"])
        assert [r["line"] for r in mine] == list(range(len(RECORDS)))
        in_process = tmp_path / "in_process.npy"
        embed_file(
            path, in_process, minilm_export_dir, json_field="text", pooling="cls", max_seq_length=16
        )
        np.testing.assert_allclose(_vectors(mine), np.load(in_process), rtol=0, atol=1e-6)


def _bad_corpus(folder: pathlib.Path) -> None:
    folder.mkdir()
    (folder / "good.jsonl").write_text('{"text": "fine"}\n\n{"text": "also fine"}\n')
    (folder / "invalid.jsonl").write_text('{"text": "ok"}\n{"text": oops}\n')
    (folder / "missing.jsonl").write_text('{"text": "ok too"}\n\n{"body": "x", "id": 2}\n')
    (folder / "broken.jsonl.gz").write_bytes(b"not gzip data at all")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, runner_args, message",
    [
        (
            "invalid.jsonl",
            MULTI_PROCESS,
            "{folder}/invalid.jsonl:2: not a JSON line (Expecting value at column 10)",
        ),
        (
            "missing.jsonl",
            (),
            "{folder}/missing.jsonl:3: expected a JSON object with field 'text', found an "
            "object with fields 'body', 'id'",
        ),
        (
            "broken.jsonl.gz",
            (),
            "input {folder}/broken.jsonl.gz: cannot read (Error -3 while decompressing data: "
            "incorrect header check)",
        ),
    ],
    ids=["invalid_json_two_workers", "missing_field", "unreadable_file"],
)
def test_bad_input_fails_in_one_line_without_shards(
    minilm_export_dir, tmp_path, name, runner_args, message
):
    folder = tmp_path / "corpus"
    _bad_corpus(folder)
    out = tmp_path / "out"
    out.mkdir()
    done = _cli(
        "--runner=DirectRunner",
        f"--export_dir={minilm_export_dir}",
        f"--input={folder}/{name}",
        f"--output={out}/vectors",
        "--json_field=text",
        *runner_args,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == "error: " + message.format(folder=folder)
    assert "Traceback" not in done.stderr
    assert _shards(out) == []  # no shard, no Beam temporary folder


@pytest.mark.slow
def test_skip_bad_lines_writes_the_dead_letter_and_counts(minilm_export_dir, tmp_path):
    folder = tmp_path / "corpus"
    _bad_corpus(folder)
    out = tmp_path / "out"
    out.mkdir()
    done = _cli(
        "--runner=DirectRunner",
        f"--export_dir={minilm_export_dir}",
        f"--input={folder}/*",
        f"--output={out}/vectors",
        "--json_field=text",
        "--skip_bad_lines",
        "--keep_text",
    )
    assert done.returncode == 0, done.stderr
    dead_letter = out / "vectors-bad_lines-00000-of-00001.jsonl"
    assert done.stdout.splitlines()[-1] == f"Skipped 3 bad lines: {dead_letter}"
    bad = [json.loads(line) for line in dead_letter.read_text().splitlines()]
    assert sorted((pathlib.Path(b["source"]).name, b["line"]) for b in bad) == [
        ("broken.jsonl.gz", 0),
        ("invalid.jsonl", 1),
        ("missing.jsonl", 2),
    ]
    assert all(b["error"].startswith(("input ", str(folder))) for b in bad)
    rows = _rows(out / "vectors")
    kept = sorted((pathlib.Path(r["source"]).name, r["line"], r["text"]) for r in rows)
    assert kept == [
        ("good.jsonl", 0, "fine"),
        ("good.jsonl", 1, ""),
        ("good.jsonl", 2, "also fine"),
        ("invalid.jsonl", 0, "ok"),
        ("missing.jsonl", 0, "ok too"),
        ("missing.jsonl", 1, ""),
    ]
    reference = embed([r["text"] for r in rows], minilm_export_dir)
    np.testing.assert_allclose(_vectors(rows), reference, rtol=0, atol=1e-6)
