"""``reviewcat pipeline``: the steps in one session, the same bytes as the separate commands, resuming."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reviewcat import pipeline
from reviewcat.ingest import importer
from reviewcat.prep import balance, prepare
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import namespace
from reviewcat.synthetic.sample_data import write_sample_data

from conftest import FAST, cli_env
from helpers import recorded_paths

# The 2023 dump's own categories (an amazon-2023 dump is generated with them).
DUMP_CATEGORIES = ["Books", "Electronics", "Home_and_Kitchen", "Pet_Supplies", "Clothing_Shoes_and_Jewelry"]

SPLIT_FILES = ["train/train.txt", "validation/validation.txt", "test/test.txt"]


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("dump") / "dump"
    write_sample_data(str(path), 4000, seed=11, categories=DUMP_CATEGORIES, fmt="amazon-2023")
    return str(path)


def run(rt, **values):
    return pipeline.run(rt, namespace(pipeline.OPTIONS, **values))


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_one_session_writes_what_the_separate_commands_write(rt, dump, tmp_path):
    out = tmp_path / "out"
    result = run(rt, input_path=dump, output_path=str(out), format="amazon-2023", min_chars=30, seed=4, no_train=True)
    assert sorted(p.name for p in out.iterdir()) == ["_pipeline.json", "balanced", "imported", "prepared"]
    assert result.skipped == [] and sorted(result.results) == ["balance", "import", "prepare"]

    alone = tmp_path / "alone"
    importer.import_table(rt, format="amazon-2023", input_path=dump,
                          output_path=str(alone / "imported"))
    balance.balance(rt, input_path=str(alone / "imported"), output_path=str(alone / "balanced"),
                    seed=4)
    prepare.prepare(rt, input_path=str(alone / "balanced"), output_path=str(alone / "prepared"),
                    seed=4, min_chars=30)
    for name in SPLIT_FILES:
        assert (out / "prepared" / name).read_bytes() == (alone / "prepared" / name).read_bytes()
    assert result.results["prepare"]["files"] == json.loads((alone / "prepared" / "manifest.json").read_text())["files"]


def test_a_rerun_skips_what_is_up_to_date_and_redoes_what_changed(rt, dump, tmp_path):
    out = tmp_path / "out"
    run(rt, input_path=dump, output_path=str(out), format="amazon-2023", no_train=True)
    before = files_of(out / "prepared")

    again = run(rt, input_path=dump, output_path=str(out), format="amazon-2023", no_train=True)
    assert again.skipped == ["import", "balance", "prepare"] and files_of(out / "prepared") == before

    # A prepare setting changes: only prepare runs again.
    changed = run(rt, input_path=dump, output_path=str(out), format="amazon-2023", no_train=True, min_chars=60)
    assert changed.skipped == ["import", "balance"]
    assert changed.results["prepare"]["min_chars"] == 60 and files_of(out / "prepared") != before

    # A step's output was damaged: that step runs again. Its result is the same bytes, so the
    # steps after it are still up to date.
    (out / "balanced" / "_balance.json").unlink()
    redone = run(rt, input_path=dump, output_path=str(out), format="amazon-2023", no_train=True, min_chars=60)
    assert redone.skipped == ["import", "prepare"] and (out / "balanced" / "_balance.json").exists()
    (out / "prepared" / "manifest.json").write_text("{}")
    assert run(rt, input_path=dump, output_path=str(out), format="amazon-2023", no_train=True,
               min_chars=60).skipped == ["import", "balance"]

    # --rerun runs everything.
    assert run(rt, input_path=dump, output_path=str(out), format="amazon-2023", no_train=True, min_chars=60,
               rerun=True).skipped == []


def test_a_changed_input_imports_again_and_the_catalog_is_balanced_through(rt, dump, copy_of, tmp_path):
    source = Path(copy_of(dump))
    out = tmp_path / "out"
    first = run(rt, input_path=str(source), output_path=str(out), format="amazon-2023", no_train=True,
                database="pipedb")
    assert first.table == "pipedb.reviews"
    assert rt.spark.catalog.tableExists("pipedb.reviews_balanced")
    dropped = sorted(source.iterdir())[0]
    dropped.unlink()
    second = run(rt, input_path=str(source), output_path=str(out), format="amazon-2023", no_train=True,
                 database="pipedb")
    assert second.skipped == []
    imported = {p.name for p in (out / "imported").iterdir() if p.name.startswith("product_category=")}
    assert len(imported) == len(DUMP_CATEGORIES) - 1  # the category whose file went is gone too


def test_training_is_the_last_step(rt, prepared_dir, tmp_path):
    balanced = str(Path(prepared_dir).parent / "balanced")
    out = tmp_path / "out"
    search = {k: v for k, v in FAST.items() if k != "backend"}  # the pipeline trains locally
    result = run(rt, input_path=balanced, output_path=str(out), **search)
    assert (out / "model" / "model.bin").exists() and result.results["train"]["accuracy"] > 0.5
    # Every path an output file records is where that thing is now, not a staging folder gone since.
    recorded = recorded_paths(out, tmp_path.parent)
    assert {"model/metrics.json", "prepared/manifest.json", "balanced/_balance.json"} <= \
        set(recorded), recorded
    for file, paths in recorded.items():
        assert all(Path(path).exists() and "__tmp" not in path for path in paths), (file, paths)
    # A training setting changes: the data steps are up to date.
    assert run(rt, input_path=balanced, output_path=str(out), **{**search, "max_jobs": 3}).skipped == \
        ["balance", "prepare"]


def test_refusals_are_one_line_errors(rt, dump, tmp_path):
    taken = tmp_path / "taken"
    (taken / "prepared").mkdir(parents=True)
    with pytest.raises(ReviewcatError, match="holds prepared but is not a pipeline's output"):
        run(rt, input_path=dump, output_path=str(taken), format="amazon-2023", no_train=True)
    with pytest.raises(ReviewcatError, match="training writes a local folder, not s3://bucket/run"):
        run(rt, input_path=dump, output_path="s3://bucket/run", format="amazon-2023")
    with pytest.raises(ReviewcatError, match="--table names the catalog table of --database"):
        run(rt, input_path=dump, output_path=str(tmp_path / "x"), format="amazon-2023", no_train=True, table="t")
    for unlabelled in (dict(no_label=True), {}):
        with pytest.raises(ReviewcatError, match="the pipeline balances and trains on labels: give --label-column"):
            run(rt, input_path=dump, output_path=str(tmp_path / "x"), format="table", id_column="id",
                text_column="text", **unlabelled)
    proc = subprocess.run([sys.executable, "-m", "reviewcat.cli", "pipeline", "--input-path", str(tmp_path / "none"),
                           "--output-path", str(tmp_path / "y"), "--no-train"], env=cli_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("reviewcat pipeline: error: input path")
