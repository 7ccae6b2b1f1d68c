"""The mistakes users make, refused before anything is written: each ends in one line, exit code 2 (130
when stopped), the input unchanged to the byte, and nothing left behind, no file and no process."""
import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reviewcat import cli, pipeline
from reviewcat.ingest import importer
from reviewcat.prep import balance, bias, prepare
from reviewcat.runtime import publishing
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.jobs import run_job
from reviewcat.runtime.staging import staging_name
from reviewcat.schema import RUN_FILE
from reviewcat.scoring import predict_table
from reviewcat.tables import schemas
from reviewcat.train import model_file

from conftest import FAST, cli_env
from helpers import leftovers

REVIEWCAT = [sys.executable, "-m", "reviewcat.cli"]
# Without the DAC capabilities root is refused by file permissions, as any other user is.
AS_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
needs_setpriv = pytest.mark.skipif(AS_USER and shutil.which("setpriv") is None, reason="needs setpriv as root")
JOBS = {"import": importer, "balance": balance, "prepare": prepare, "bias": bias, "predict-table": predict_table,
        "pipeline": pipeline}


def checksums(*paths) -> dict[str, str]:
    """Every file (and link) under ``paths`` with its SHA-256: an input before and after a run."""
    sums = {}
    for root in map(Path, paths):
        for p in [root] if root.is_file() else sorted(root.rglob("*")):
            if p.is_symlink():
                sums[str(p)] = f"-> {os.readlink(p)}"
            elif p.is_file():
                sums[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return sums


@pytest.fixture
def jobs(capsys, monkeypatch, tmp_path):
    """Runs a job or tool command in this process (the shared Spark session): (exit code, terminal lines)."""
    monkeypatch.setenv("REVIEWCAT_WAREHOUSE", str(tmp_path / "warehouse"))

    def run(command: str, *argv) -> tuple[int, list[str]]:
        capsys.readouterr()
        prog = f"reviewcat {command}"
        if command in JOBS:
            code = run_job([prog, *map(str, argv)], JOBS[command].OPTIONS, prog, "", JOBS[command].run)
        else:
            code = cli.main([command, *map(str, argv)])
        return code, [line for line in capsys.readouterr().err.splitlines() if line.startswith("reviewcat")]
    return run


def refused(result, command: str, *fragments: str) -> str:
    code, lines = result
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"reviewcat {command}: error: "), result
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def gone(*outputs) -> bool:
    return all(not Path(o).exists() and not leftovers(str(o)) for o in outputs)


# 1. Inputs are never written.

def test_an_output_on_inside_or_around_an_input_is_refused_whatever_its_spelling(jobs, raw_path, copy_of, trained,
                                                                                 prepared_dir, tmp_path):
    data = Path(copy_of(raw_path))
    (tmp_path / "link").symlink_to(data)
    before = checksums(data, trained, prepared_dir)
    never = "reviewcat never writes to or under its inputs"
    cases = [
        ("balance", ["--input-path", f"file://{data}/", "--output-path", data, "--overwrite"], "is the input"),
        ("balance", ["--input-path", data, "--output-path", tmp_path / "link" / "balanced"], "is inside the input"),
        ("prepare", ["--input-path", tmp_path / "link", "--output-path", f"{data}/product_category=Books/../sub"],
         "is inside the input"),
        ("bias", ["--input-path", data / "product_category=Books" / "..", "--output-path", tmp_path, "--overwrite"],
         "holds the input"),
        ("predict-table", ["--input-path", data, "--model", trained / "model.bin", "--output-path", trained,
                           "--overwrite"], "holds the input --model"),
        ("import", ["--format", "table", "--input-path", f"{data}/*/*.parquet", "--id-column", "review_id",
                    "--text-column", "review_body", "--label-column", "marketplace", "--output-path",
                    data / "imported"], "is inside the input"),
        ("pipeline", ["--input-path", tmp_path / "out" / "balanced" / "x", "--output-path", tmp_path / "out",
                      "--no-train"], "holds the input"),
        ("pipeline", ["--format", "amazon-2023", "--input-path", tmp_path / "out" / "imported", "--output-path",
                      tmp_path / "out"], "is the input"),
        ("train", ["--data", prepared_dir, "--output-path", f"{prepared_dir}/", "--overwrite"] + ["--backend", "local"],
         "is the input --data"),
        ("evaluate", ["--model", trained / "model.bin", "--data", prepared_dir, "--output-path",
                      Path(prepared_dir) / "test" / "ev"], "is inside the input --data"),
    ]
    for command, argv, relation in cases:
        refused(jobs(command, *argv), command, relation, never)
    assert checksums(data, trained, prepared_dir) == before
    assert not leftovers(str(data)) and not (tmp_path / "out").exists()


def test_an_output_inside_a_catalog_tables_files_is_refused(jobs, raw_table, raw_path, tmp_path):
    before = checksums(raw_path)
    refused(jobs("balance", "--database", "rawdb", "--table", "reviews", "--output-path", f"{raw_path}/balanced"),
            "balance", "is inside the input table rawdb.reviews at", raw_path)
    assert checksums(raw_path) == before and gone(f"{raw_path}/balanced")


def test_overwrite_replaces_only_what_reviewcat_wrote(jobs, raw_path, trained, prepared_dir, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("three years of work")
    before = checksums(mine)
    cases = [
        ("balance", ["--input-path", raw_path]), ("prepare", ["--input-path", raw_path]),
        ("bias", ["--input-path", raw_path]), ("predict-table", ["--input-path", raw_path, "--model",
                                                                 trained / "model.bin"]),
        ("import", ["--format", "amazon-2023", "--input-path", f"{raw_path}/nothing*.jsonl"]),
        ("train", ["--data", prepared_dir, *FAST_ARGS]), ("evaluate", ["--model", trained / "model.bin", "--data",
                                                                         prepared_dir]),
        ("sample-data", ["--rows", "1000"]),
    ]
    for command, argv in cases:
        refused(jobs(command, *argv, "--output-path", mine, "--overwrite"), command,
                f"output path {mine} holds files reviewcat did not write", "remove the folder yourself")
    assert checksums(mine) == before and not leftovers(str(mine))
    # A reviewcat output is replaced: its run file says whose it is.
    jobs("sample-data", "--rows", "1000", "--output-path", tmp_path / "sample")
    first = json.loads((tmp_path / "sample" / RUN_FILE).read_text())
    assert jobs("sample-data", "--rows", "2000", "--output-path", tmp_path / "sample", "--overwrite")[0] == 0
    assert json.loads((tmp_path / "sample" / RUN_FILE).read_text())["run"] != first["run"]


def test_an_older_releases_output_is_known_by_its_result_file_not_by_a_common_name(tmp_path):
    def folder(name: str, files: dict) -> str:
        (tmp_path / name).mkdir()
        for file, text in files.items():
            (tmp_path / name / file).write_text(text)
        return str(tmp_path / name)
    ours = [folder("balanced", {"_balance.json": "{}"}),
            folder("prepared", {"manifest.json": '{"created_by": "reviewcat 0.1.0"}', "train": ""}),
            folder("model", {"metrics.json": '{"accuracy_ci95": [0.7, 0.8]}', "model.bin": ""})]
    theirs = [folder("dataset", {"manifest.json": '{"created_by": "sagemaker"}', "train": "", "test": ""}),
              folder("results", {"metrics.json": '{"loss": 0.1}', "report.md": ""}),
              folder("broken", {"search.json": "not json"})]
    for path in ours + theirs:
        assert publishing.owned(publishing.LOCAL, path, os.listdir(path)) == (path in ours), path


def test_balance_never_drops_its_input_table_or_anothers_managed_table(jobs, spark, raw_table, raw_path, tmp_path):
    refused(jobs("balance", "--database", "rawdb", "--table", "reviews", "--output-table", "rawdb.reviews",
                 "--output-path", tmp_path / "b"), "balance", "--output-table rawdb.reviews is the input table")
    spark.sql("CREATE TABLE rawdb.kept USING parquet AS SELECT 1 AS id")
    refused(jobs("balance", "--input-path", raw_path, "--output-table", "rawdb.kept", "--output-path",
                 tmp_path / "b"), "balance", "table rawdb.kept is a managed table at", "choose another --output-table")
    assert spark.table("rawdb.kept").count() == 1 and spark.table("rawdb.reviews").count() > 0 and gone(tmp_path / "b")


FAST_ARGS = ["--backend", "local", "--range", FAST["range"][0], "--static", FAST["static"][0], "--max-jobs", "2"]


# 2. One table, one schema.

def test_schemas_are_reconciled_the_same_whatever_the_order_or_refused_naming_two_files():
    from pyspark.sql.types import IntegerType, LongType, StringType
    files = {"/t/b.parquet": [("id", StringType()), ("text", StringType()), ("extra", IntegerType())],
             "/t/a.parquet": [("id", StringType()), ("text", StringType())],
             "/t/c.parquet": [("id", StringType()), ("late", StringType()), ("text", StringType())]}
    orders = [dict(sorted(files.items(), key=key)) for key in (lambda kv: kv[0], lambda kv: -len(kv[1]),
                                                              lambda kv: kv[0][::-1])]
    results = [schemas.reconcile(order) for order in orders]
    assert all(r == results[0] for r in results)
    assert [f.name for f in results[0].schema.fields] == ["id", "text", "extra", "late"]
    assert results[0].partial == {"extra": ("/t/b.parquet", "/t/a.parquet"), "late": ("/t/c.parquet", "/t/a.parquet")}
    with pytest.raises(ReviewcatError, match=r"disagree on the type of column extra: /t/b.parquet has it as int "
                                             r"where /t/d.parquet has it as bigint"):
        schemas.reconcile({**files, "/t/d.parquet": [("extra", LongType())]})
    with pytest.raises(ReviewcatError, match=r"disagree on the name of column text: /t/a.parquet spells it 'text' "
                                             r"where /t/e.parquet spells it 'Text'"):
        schemas.reconcile({**files, "/t/e.parquet": [("Text", StringType())]})


def _lake(root: Path, extra_in: str = "Books") -> Path:
    for category in ("Books", "Camera", "Watches"):
        folder = root / f"product_category={category}"
        folder.mkdir(parents=True)
        columns = {"review_id": [f"{category}{i}" for i in range(60)], "star_rating": [1 + i % 5 for i in range(60)],
                   "review_body": [f"a review of a {category.lower()} number {i}, long enough" for i in range(60)]}
        if category == extra_in:
            columns["title"] = [f"title {i}" for i in range(60)]
        pq.write_table(pa.table(columns), folder / "part-0.parquet")
    return root


def test_files_that_differ_in_columns_are_read_as_their_union_and_named(jobs, spark, tmp_path, caplog):
    lake = _lake(tmp_path / "lake")
    before = checksums(lake)
    assert jobs("balance", "--input-path", lake, "--output-path", tmp_path / "balanced")[0] == 0
    assert "title is in" in caplog.text and "product_category=Books/part-0.parquet" in caplog.text
    written = spark.read.parquet(str(tmp_path / "balanced"))
    assert "title" in written.columns
    assert {r["product_category"] for r in written.where("title IS NOT NULL").collect()} == {"Books"}
    assert checksums(lake) == before
    # A crawled table gets the union too, whichever file its schema would have come from.
    assert jobs("crawl", "--input-path", lake, "--database", "mixed", "--table", "lake")[0] == 0
    assert "title" in spark.table("mixed.lake").columns


def test_the_jvms_footer_reader_sees_what_pyarrow_sees(spark, tmp_path, monkeypatch):
    """Remote files (S3, HDFS, Glue) have their footers read through the JVM: the same columns and types."""
    lake = _lake(tmp_path / "lake")
    uris = sorted(spark.read.parquet(str(lake)).inputFiles())
    local = schemas.file_schemas(spark, uris)
    monkeypatch.setattr(schemas, "_local_columns", lambda path: None)  # as if Arrow could not map a type
    through_jvm = schemas.file_schemas(spark, uris)
    simple = {uri: [(n, t.simpleString()) for n, t in columns] for uri, columns in local.items()}
    assert len(local) == 3 and simple == {uri: [(n, t.simpleString()) for n, t in columns]
                                          for uri, columns in through_jvm.items()}


def test_files_that_disagree_on_a_column_stop_with_one_line_naming_both(jobs, tmp_path):
    lake = _lake(tmp_path / "lake")
    camera = lake / "product_category=Camera" / "part-0.parquet"
    pq.write_table(pq.read_table(camera).rename_columns(["review_id", "Star_Rating", "review_body"]), camera)
    before = checksums(lake)
    refused(jobs("prepare", "--input-path", lake, "--output-path", tmp_path / "prepared"), "prepare",
            "input files disagree on the name of column star_rating", str(lake / "product_category=Books"), str(camera))
    assert checksums(lake) == before and gone(tmp_path / "prepared")


def test_csv_files_with_different_headers_are_refused(jobs, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("id,text,queue\n1,the printer is on fire,hardware\n")
    (tmp_path / "in" / "b.csv").write_text("id,queue,text\n2,billing,my invoice is wrong twice\n")
    before = checksums(tmp_path / "in")
    refused(jobs("import", "--format", "table", "--input-path", tmp_path / "in", "--id-column", "id", "--text-column",
                 "text", "--label-column", "queue", "--output-path", tmp_path / "out"), "import",
            "input files have different columns", "a.csv has id, text, queue where", "b.csv has id, queue, text")
    assert checksums(tmp_path / "in") == before and gone(tmp_path / "out")


# 3. Text arrives intact.

def _latin1_inputs(root: Path) -> dict[str, Path]:
    root.mkdir()
    rows = ["id,text,queue"] + [f"{i},ticket {i} about a late invoice,Billing" for i in range(40)] + [
        '40,"Le café est trop chaud, ça brûle",Cuisine', "41,Der Preis von 10 € ist zu hoch,Billing"]
    table = root / "tickets.csv"
    table.write_bytes("\r\n".join(rows).encode("cp1252") + b"\r\n")
    reviews = [json.dumps({"overall": 5.0, "reviewText": f"works as described, order {i}", "summary": "good",
                           "unixReviewTime": 1400000000 + i, "asin": "B0", "reviewerID": f"R{i}"}, ensure_ascii=False)
               for i in range(30)]
    reviews.insert(10, json.dumps({"overall": 4.0, "reviewText": "très bien, une crème", "summary": "ok",
                                   "unixReviewTime": 1400000000, "asin": "B1", "reviewerID": "RX"}, ensure_ascii=False))
    dump = root / "dump" / "Books.json.gz"
    dump.parent.mkdir()
    dump.write_bytes(gzip.compress("\n".join(reviews).encode("latin-1") + b"\n"))
    tsv = root / "tsv" / "amazon_reviews_us_Books_v1_00.tsv"
    tsv.parent.mkdir()
    header = ("marketplace\tcustomer_id\treview_id\tproduct_id\tproduct_parent\tproduct_title\tproduct_category\t"
              "star_rating\thelpful_votes\ttotal_votes\tvine\tverified_purchase\treview_headline\treview_body\t"
              "review_date")
    lines = [header] + [f"US\t1\tR{i}\tP\t1\tt\tBooks\t5\t0\t0\tN\tY\tok\tgood read {i}\t2015-01-01" for i in range(5)]
    lines.append("US\t1\tR9\tP\t1\tt\tBooks\t5\t0\t0\tN\tY\tok\tun très bon livre\t2015-01-01")
    tsv.write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    return {"table": table, "dump": dump, "tsv": tsv}


def test_text_that_is_not_utf8_is_refused_with_its_line_or_decoded_with_encoding(jobs, spark, tmp_path):
    inputs = _latin1_inputs(tmp_path / "in")
    before = checksums(tmp_path / "in")
    table = ["--format", "table", "--input-path", inputs["table"], "--id-column", "id", "--text-column", "text",
             "--label-column", "queue"]
    refused(jobs("import", *table, "--output-path", tmp_path / "t"), "import",
            f"{inputs['table']} is not UTF-8: line 42 holds bytes", "--encoding windows-1252")
    refused(jobs("import", "--format", "amazon-2018", "--input-path", inputs["dump"], "--output-path", tmp_path / "d"),
            "import", f"{inputs['dump']} is not UTF-8: line 11", "--encoding UTF-8 to leave such lines out")
    refused(jobs("import", "--format", "amazon-tsv", "--input-path", inputs["tsv"], "--output-path", tmp_path / "s"),
            "import", f"{inputs['tsv']} is not UTF-8: line 7")
    assert gone(tmp_path / "t", tmp_path / "d", tmp_path / "s")

    assert jobs("import", *table, "--output-path", tmp_path / "t", "--encoding", "windows-1252")[0] == 0
    texts = {r["review_body"] for r in spark.read.parquet(str(tmp_path / "t")).collect()}
    assert {"Le café est trop chaud, ça brûle", "Der Preis von 10 € ist zu hoch"} <= texts
    assert jobs("import", "--format", "amazon-2018", "--input-path", inputs["dump"], "--output-path", tmp_path / "d",
                "--encoding", "latin1")[0] == 0
    assert "très bien, une crème" in {r["review_body"] for r in spark.read.parquet(str(tmp_path / "d")).collect()}
    # Told the file is UTF-8, its undecodable line is a reject with its reason, its bytes kept as they were.
    assert jobs("import", "--format", "amazon-2018", "--input-path", inputs["dump"], "--output-path",
                tmp_path / "u", "--encoding", "UTF-8", "--max-rejected-fraction", "0.1")[0] == 0
    summary = json.loads((tmp_path / "u" / "_import.json").read_text())
    assert summary["rows"] == 30 and summary["rejected"] == 1
    (reject,) = [json.loads(line) for f in (tmp_path / "u" / "_rejected").rglob("*.json") for line in f.open()]
    assert reject["reason"] == "undecodable text" and "\ufffd" not in json.dumps(reject)
    assert bytes.fromhex(reject["record"].removeprefix("bytes:")).decode("latin-1").startswith('{"overall": 4.0')
    assert "\ufffd" not in "".join(r["review_body"] for r in spark.read.parquet(str(tmp_path / "u")).collect())
    refused(jobs("import", *table, "--output-path", tmp_path / "x", "--encoding", "klingon"), "import",
            "unknown --encoding 'klingon'")
    assert checksums(tmp_path / "in") == before


def test_a_utf16_table_is_named_as_such_and_read_with_its_encoding(jobs, spark, tmp_path):
    """Excel's "Unicode text": UTF-16 with a byte order mark, whose lines do not end at a newline byte."""
    (tmp_path / "in").mkdir()
    rows = ["id,text,queue"] + [f"{i},ticket {i} about a late invoice,Billing" for i in range(20)] + [
        "20,Le café est trop chaud,Cuisine"]
    (tmp_path / "in" / "tickets.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode("utf-16"))
    table = ["--format", "table", "--input-path", tmp_path / "in", "--id-column", "id", "--text-column", "text",
             "--label-column", "queue"]
    refused(jobs("import", *table, "--output-path", tmp_path / "t"), "import", "is not UTF-8: line 1",
            "--encoding UTF-16")
    assert jobs("import", *table, "--output-path", tmp_path / "t", "--encoding", "UTF-16")[0] == 0
    assert "Le café est trop chaud" in {r["review_body"] for r in spark.read.parquet(str(tmp_path / "t")).collect()}
    refused(jobs("import", "--format", "amazon-2023", "--input-path", tmp_path / "in", "--output-path",
                 tmp_path / "d", "--encoding", "UTF-16"), "import", "a dump is read a line at a time")


# 4. Models are checked before use.

def test_a_damaged_model_is_refused_by_every_command_that_loads_it(jobs, trained, prepared_dir, table, tmp_path):
    record = json.loads((trained / "search.json").read_text())["model_file"]
    assert record == {"name": "model.bin", **model_file.describe(str(trained / "model.bin"))}
    assert json.loads((trained / "metrics.json").read_text())["model_file"] == record
    cut, flipped, bare = (tmp_path / name for name in ("cut", "flipped", "bare"))
    for folder in (cut, flipped, bare):
        shutil.copytree(trained, folder)
    data = (trained / "model.bin").read_bytes()
    (cut / "model.bin").write_bytes(data[: len(data) * 2 // 3])
    (flipped / "model.bin").write_bytes(data[:-8] + bytes(8))
    (bare / "search.json").unlink()  # no record: the layout still finds the cut
    (bare / "model.bin").write_bytes(data[: len(data) * 2 // 3])
    before = checksums(cut, flipped, bare)
    for folder, why in ((cut, f"{len(data) * 2 // 3:,} bytes where training wrote {len(data):,}"),
                        (flipped, "its SHA-256 differs from the one training recorded"), (bare, "it is cut short")):
        model = folder / "model.bin"
        refused(jobs("predict", "--model", model, "a great lens for the price"), "predict", f"model {model}", why)
        refused(jobs("evaluate", "--model", model, "--data", prepared_dir, "--output-path", tmp_path / "ev"),
                "evaluate", f"model {model}", why)
        refused(jobs("predict-table", "--input-path", table, "--model", model, "--output-path", tmp_path / "scored"),
                "predict-table", f"model {model}", why)
    assert checksums(cut, flipped, bare) == before and gone(tmp_path / "ev", tmp_path / "scored")


def test_an_executor_refuses_a_copy_that_is_not_the_file_the_driver_checked(spark, trained, table):
    from reviewcat.runtime import failures
    from reviewcat.scoring import predictions as scoring
    model = str(trained / "model.bin")
    shipped = scoring.ship_model(spark, model, model_file.describe(model)["sha256"])
    wrong = {"bytes": (trained / "model.bin").stat().st_size, "sha256": "0" * 64}
    frame = spark.read.parquet(table).limit(5)
    with pytest.raises(Exception) as caught:
        frame.select(scoring.top_k_column("review_body", shipped, 2, {}, wrong, model)).collect()
    assert failures.explain(caught.value).startswith(f"model {model} is not the file training wrote")


# 5. Ordinary OS problems are one line.

def _cli(args, tmp_path, prefix=(), **env):
    proc = subprocess.run([*prefix, *REVIEWCAT, *map(str, args)], cwd=tmp_path, env={**cli_env(tmp_path), **env},
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line]
    return proc.returncode, lines


@needs_setpriv
def test_permissions_a_file_in_the_way_and_an_unwritable_warehouse_are_one_line(trained, prepared_dir, raw_path,
                                                                                tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir()
    closed.chmod(0o555)
    model = trained / "model.bin"
    before = checksums(trained, prepared_dir, raw_path)
    refused(_cli(["train", "--data", prepared_dir, "--output-path", closed / "model", *FAST_ARGS], tmp_path, AS_USER),
            "train", f"permission denied on {closed / 'model'}")
    refused(_cli(["evaluate", "--model", model, "--data", prepared_dir, "--output-path", closed / "ev"], tmp_path,
                 AS_USER), "evaluate", f"permission denied on {closed / 'ev'}")
    (tmp_path / "afile").write_text("x")
    refused(_cli(["evaluate", "--model", model, "--data", prepared_dir, "--output-path", tmp_path / "afile" / "ev"],
                 tmp_path), "evaluate", "a part of this path is a file, not a folder")
    refused(_cli(["prepare", "--input-path", raw_path, "--output-path", tmp_path / "p"], tmp_path, AS_USER,
                 REVIEWCAT_WAREHOUSE=str(closed / "warehouse")), "prepare",
            f"cannot write to the warehouse {closed / 'warehouse'} (Permission denied)", "REVIEWCAT_WAREHOUSE=")
    # predict needs no warehouse: its log goes elsewhere, and it answers.
    code, lines = _cli(["predict", "--model", model, "a sturdy tripod"], tmp_path, AS_USER,
                       REVIEWCAT_WAREHOUSE=str(closed / "warehouse"))
    assert code == 0 and not lines
    assert not list(closed.iterdir()) and not (tmp_path / "p").exists()
    assert checksums(trained, prepared_dir, raw_path) == before


def test_a_disk_that_fills_up_while_training_is_one_line(prepared_dir, tiny_disk, tmp_path):
    """fastText does not check its writes: a model cut short by a full disk is caught as it is saved."""
    before = checksums(prepared_dir)
    refused(_cli(["train", "--data", prepared_dir, "--output-path", tiny_disk / "model", *FAST_ARGS], tmp_path),
            "train", f"the disk ran out of space while writing {tiny_disk / 'model'}")
    assert not list(tiny_disk.iterdir()) and checksums(prepared_dir) == before


# 6. Interruptions end everything they started.

def _group(pgid: int) -> list[str]:
    """The live processes of a process group (zombies have ended)."""
    found = []
    for entry in os.listdir("/proc"):
        try:  # a process may end between the listing and the reads
            stat = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            if entry.isdigit() and int(stat[2]) == pgid and stat[0] != b"Z":
                found.append(Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except (OSError, ValueError):
            continue
    return found


def _wait_for(predicate, timeout=180):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("moment,sig", [("jvm-start", "ctrl-c"), ("writing", "ctrl-c"), ("writing", "group-term")])
def test_an_interrupt_ends_the_jvm_and_its_workers_and_removes_the_staging_folder(raw_path, tmp_path, moment, sig):
    """Ctrl-C reaches the whole process group, as a terminal sends it; a SIGTERM to the group (a
    container stopping, a scheduler's kill) ends the JVM before reviewcat can ask it anything."""
    out = tmp_path / "prepared"
    before = checksums(raw_path)
    proc = subprocess.Popen([*REVIEWCAT, "prepare", "--input-path", raw_path, "--output-path", out], cwd=tmp_path,
                            env=cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    if moment == "jvm-start":
        _wait_for(lambda: any("java" in p for p in _group(proc.pid)))
    else:
        _wait_for(lambda: leftovers(str(out)))
    os.killpg(proc.pid, signal.SIGINT if sig == "ctrl-c" else signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    name = "SIGINT" if sig == "ctrl-c" else "SIGTERM"
    assert proc.returncode == 130 and [line for line in err.splitlines() if line.startswith("reviewcat")] == [
        f"reviewcat prepare: error: interrupted by {name}: stopped, and nothing was written"], err[-3000:]
    assert "Traceback" not in err
    if sig == "ctrl-c":
        assert _group(proc.pid) == []  # ended before the command returned
    else:  # the signal reached every process itself; the JVM was gone before reviewcat could stop it
        _wait_for(lambda: _group(proc.pid) == [], timeout=5)
    assert gone(out) and checksums(raw_path) == before


def test_an_interrupted_sample_data_ends_its_workers_and_leaves_nothing(tmp_path):
    """Ctrl-C reaches the workers too: they leave it to the main process, which stops handing out
    pieces, waits for the ones under way and removes the staging folder."""
    out = tmp_path / "reviews"
    proc = subprocess.Popen([*REVIEWCAT, "sample-data", "--rows", "3000000", "--workers", "2", "--output-path", out],
                            cwd=tmp_path, env=cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    _wait_for(lambda: list(tmp_path.glob("reviews.__tmp-*/*/*.parquet")))
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and [line for line in err.splitlines() if not line[:2].isdigit()] == [
        "reviewcat sample-data: error: interrupted by SIGINT: stopped, and nothing was written"], err[-3000:]
    _wait_for(lambda: _group(proc.pid) == [], timeout=5)
    assert gone(out)


def test_an_interrupted_training_ends_its_trials_quietly(prepared_dir, tmp_path):
    out = tmp_path / "model"
    before = checksums(prepared_dir)
    proc = subprocess.Popen([*REVIEWCAT, "train", "--data", prepared_dir, "--output-path", out, "--backend", "local",
                             "--range", FAST["range"][0], "--max-jobs", "30"], cwd=tmp_path, env=cli_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for(lambda: list(tmp_path.glob("model.__tmp-*/.trials-*/*.bin")))
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines() == [
        "reviewcat train: error: interrupted by SIGINT: stopped, and nothing was written"], err[-3000:]
    _wait_for(lambda: _group(proc.pid) == [], timeout=5)  # the trials are ended, not orphaned
    assert gone(out) and checksums(prepared_dir) == before


# 7. One output, one writer.

def test_of_two_runs_publishing_one_output_one_wins_and_the_other_says_who(raw_path, tmp_path):
    """Started together, both claim the free output; the second to finish (its sentiment balance
    scans once more) finds the first's output there, keeps it and says whose it is."""
    out = tmp_path / "balanced"
    before = checksums(raw_path)
    settings = (["--per-class", "100"], ["--label", "sentiment", "--per-class", "50"])
    runs = [subprocess.Popen([*REVIEWCAT, "balance", "--input-path", raw_path, "--output-path", out, *extra],
                             cwd=tmp_path, env={**cli_env(tmp_path), "REVIEWCAT_MASTER": "local[1]"},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for extra in settings]
    results = [(proc, *proc.communicate(timeout=300)) for proc in runs]
    (winner, _, _), = [r for r in results if r[0].returncode == 0]
    (loser, _, err), = [r for r in results if r[0].returncode != 0]
    lines = err.strip().splitlines()
    first = (f"reviewcat balance: error: another run (process {winner.pid} on {os.uname().nodename}, reviewcat "
             f"balance) published {out} first: this run's output is dropped and that one kept; run again with "
             "--overwrite to replace it")
    late = f"reviewcat balance: error: output path {out} already exists"  # the loser started once it was there
    assert loser.returncode == 2 and len(lines) == 1 and (lines[0] == first or lines[0].startswith(late)), err
    assert json.loads((out / RUN_FILE).read_text())["pid"] == winner.pid
    label = json.loads((out / "_balance.json").read_text())["label"]["name"]
    assert label == ("category" if winner is runs[0] else "sentiment")
    assert not leftovers(str(out)) and checksums(raw_path) == before


def test_a_claim_is_refused_once_another_run_has_published(tmp_path):
    files, final = publishing.LOCAL, str(tmp_path / "out")
    first, second = publishing.claim(files, final, False), publishing.claim(files, final, False)
    for claim in (first, second):
        Path(staging_name(final)).mkdir()
    staged = sorted(tmp_path.glob("out.__tmp-*"))
    (staged[0] / "a.txt").write_text("first")
    (staged[1] / "b.txt").write_text("second")
    publishing.publish(files, str(staged[0]), first)
    with pytest.raises(ReviewcatError, match=f"another run \\(process {os.getpid()} .*published {final} first"):
        publishing.publish(files, str(staged[1]), second)
    assert sorted(p.name for p in Path(final).iterdir()) == [RUN_FILE, "a.txt"]


@pytest.mark.parametrize("argv", [["aws", "status", "--region", "us-east-1"], ["endpoint", "list"],
                                  ["predict", "--endpoint", "acme", "some review"]])
def test_a_missing_extra_names_the_install_that_brings_it(tmp_path, argv):
    """The AWS commands without boto3 (an install without the aws extra): one line saying what to install."""
    hide = "import sys; sys.modules['boto3'] = None; from reviewcat.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", hide, *argv], cwd=tmp_path,
                          env=cli_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    prog = " ".join(["reviewcat", *argv[:2 if argv[0] != "predict" else 1]])
    assert proc.stderr.strip().splitlines()[-1] == f"{prog}: error: boto3 is not installed: pip install 'reviewcat[aws]'"
