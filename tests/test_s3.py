"""Every job on ``s3://`` through Spark's S3A, against a moto server on 127.0.0.1 (Spark 3.5 only).

Each job runs twice, once on local folders and once on S3, from the same inputs: what it writes on
S3 must be what it writes locally, byte for byte (split files, manifests, ``_*.json`` with run
times and paths set aside; parquet compared by rows, whose files carry a job's random name).
The in-process runs share the test session's Spark, told where the S3 server is; the command-line
runs are cold processes that find the jars and the endpoint as a user's would.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from reviewcat import pipeline
from reviewcat.ingest import importer
from reviewcat.prep import balance, bias, prepare
from reviewcat.runtime import s3a
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.jobs import run_job
from reviewcat.runtime.options import namespace
from reviewcat.scoring import predict_table
from reviewcat.synthetic.sample_data import write_sample_data
from reviewcat.tables.catalog import crawl
from reviewcat.train.commands import train

from conftest import CATEGORIES, FAST, REGION, cli_env

BUCKET = "lake"
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


@pytest.fixture(scope="module")
def lake(spark, moto_endpoint):
    """The bucket ``lake`` on the moto server, reachable from this process's Spark and boto3."""
    jars = s3a.found_jars()
    assert jars, f"S3A's jars are not in {s3a.jar_folder()}: run `reviewcat s3-jars` (the make targets do)"
    environ = {**KEYS, "AWS_ENDPOINT_URL_S3": moto_endpoint}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        # What spark_session would have set had the endpoint been known when the session started.
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        for key, value in s3a.settings(jars, environ).items():
            if key.startswith("spark.hadoop."):
                conf.set(key[len("spark.hadoop."):], value)
        conf.set("fs.s3a.access.key", KEYS["AWS_ACCESS_KEY_ID"])
        conf.set("fs.s3a.secret.key", KEYS["AWS_SECRET_ACCESS_KEY"])
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def upload(client, local: Path, prefix: str) -> str:
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        client.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(local).as_posix()}")
    return f"s3://{BUCKET}/{prefix}"


def s3_files(client, prefix: str) -> dict[str, bytes]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/"):
        for item in page.get("Contents", []):
            found[item["Key"][len(prefix) + 1:]] = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
    return found


def all_keys(client, bucket: str = BUCKET) -> list[str]:
    return [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])]


def local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def comparable(name: str, data: bytes, places: dict[str, str]) -> object:
    """A file's content with what differs between two runs by design set aside: the run file's
    identity and time, and the paths (``places`` maps each to a placeholder)."""
    if name.rsplit("/", 1)[-1] == "_reviewcat.json":
        return sorted(json.loads(data))
    if name.rsplit("/", 1)[-1] == "_pipeline.json":  # digests of each step's inputs, their paths included
        return {step: sorted(value) for step, value in json.loads(data)["steps"].items()}
    if name.endswith(".json"):
        text = data.decode()
        for path, placeholder in sorted(places.items(), key=lambda item: -len(item[0])):
            text = text.replace(path, placeholder)
        return json.loads(text)
    return data


def assert_same_output(s3_tree: dict[str, bytes], local_tree: dict[str, bytes], places: dict[str, str],
                       parquet: bool = False) -> None:
    """Every file but parquet and ``_SUCCESS`` equal after ``comparable``; the same parquet folders."""
    def plain(tree):
        return {name: comparable(name, data, places) for name, data in tree.items()
                if not name.endswith(".parquet") and not name.endswith("_SUCCESS")}
    on_s3, on_disk = plain(s3_tree), plain(local_tree)
    assert sorted(on_s3) == sorted(on_disk)
    for name in on_s3:
        assert on_s3[name] == on_disk[name], name
    if parquet:
        def folders(tree):
            return sorted({name.rsplit("/", 1)[0] if "/" in name else "" for name in tree if name.endswith(".parquet")})
        assert folders(s3_tree) == folders(local_tree)


def copied_files(spark) -> int:
    """How many objects S3A has copied in this process (each rename copies every object)."""
    jvm = spark.sparkContext._jvm
    fs = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI(f"s3://{BUCKET}/"),
                                                 spark.sparkContext._jsc.hadoopConfiguration())
    return int(fs.getStorageStatistics().getLong("files_copied") or 0)


def rows(spark, path: str, *order: str) -> list:
    frame = spark.read.parquet(path)
    return [tuple(r) for r in frame.select(sorted(frame.columns)).orderBy(*order).collect()]


def test_crawl_balance_prepare_bias_and_predict_table_on_s3_write_what_they_write_locally(
        rt, spark, lake, raw_path, trained, tmp_path):
    raw = upload(lake, Path(raw_path), "raw")
    local = tmp_path

    crawled = crawl(rt, raw, "s3db", "reviews")
    assert sorted(crawled.categories) == sorted(CATEGORIES) and crawled.location == raw
    location = spark.sql("DESCRIBE TABLE EXTENDED s3db.reviews").where("col_name = 'Location'").first()["data_type"]
    assert location == raw

    # balance reads the crawled table through the catalog's partition push-down, from S3; each file
    # is uploaded once, to its final key (S3A's magic committer, the output built in place): no copy
    copies = copied_files(spark)
    balance.balance(rt, database="s3db", table="reviews", output_path=f"{raw}-balanced",
                    min_class_size=20)
    assert copied_files(spark) == copies
    assert not [key for key in all_keys(lake) if ".__tmp" in key or "__magic" in key]
    balance.balance(rt, input_path=raw_path, output_path=str(local / "balanced"),
                    min_class_size=20)
    places = {f"s3://{BUCKET}": "<root>", "s3db.reviews": raw_path, str(local): "<root>", "file:": ""}
    assert_same_output(s3_files(lake, "raw-balanced"), local_files(local / "balanced"), places, parquet=True)
    assert rows(spark, f"{raw}-balanced", "review_id") == rows(spark, str(local / "balanced"), "review_id")

    # prepare: one file per split, assembled from the parts by a multipart upload of part copies
    prepare.prepare(rt, input_path=f"{raw}-balanced", output_path=f"s3://{BUCKET}/prepared")
    prepare.prepare(rt, input_path=str(local / "balanced"), output_path=str(local / "prepared"))
    places = {f"s3://{BUCKET}/raw-balanced": "<in>", f"{local}/balanced": "<in>", "file:": "",
              "s3db.reviews": raw_path}  # the S3 run balanced through the catalog
    prepared = s3_files(lake, "prepared")
    assert sorted(prepared) == ["_reviewcat.json", "manifest.json", "test/test.txt", "train/train.txt",
                                "validation/validation.txt"]
    assert_same_output(prepared, local_files(local / "prepared"), places)
    assert not lake.list_multipart_uploads(Bucket=BUCKET).get("Uploads")

    bias.bias(rt, input_path=raw, output_path=f"s3://{BUCKET}/bias")
    bias.bias(rt, input_path=raw_path, output_path=str(local / "bias"))
    places = {raw: "<in>", raw_path: "<in>", "file:": ""}
    assert_same_output({k: v for k, v in s3_files(lake, "bias").items() if not k.endswith(".png")},
                       {k: v for k, v in local_files(local / "bias").items() if not k.endswith(".png")}, places)

    model = str(trained / "model.bin")
    predict_table.predict_table(rt, input_path=raw, model=model,
                                output_path=f"s3://{BUCKET}/scored")
    predict_table.predict_table(rt, input_path=raw_path, model=model,
                                output_path=str(local / "scored"))
    assert_same_output(s3_files(lake, "scored"), local_files(local / "scored"), places, parquet=True)
    assert rows(spark, f"s3://{BUCKET}/scored", "review_id") == rows(spark, str(local / "scored"), "review_id")


def test_imports_of_gzipped_dumps_and_a_table_on_s3(rt, spark, lake, tmp_path):
    for fmt in ("amazon-2023", "amazon-2018", "amazon-tsv"):
        dump = tmp_path / fmt
        categories = ["Books", "Electronics", "Clothing_Shoes_and_Jewelry"] if fmt == "amazon-2023" \
            else ["Books", "Camera", "Shoes"]  # each dump with its own release's categories
        write_sample_data(str(dump), 900, seed=5, categories=categories, fmt=fmt)
        source = upload(lake, dump, f"dumps/{fmt}")
        copies = copied_files(spark)
        importer.import_table(rt, format=fmt, input_path=source,
                              output_path=f"s3://{BUCKET}/imported-{fmt}")
        assert copied_files(spark) == copies  # built in place: no object copied
        importer.import_table(rt, format=fmt, input_path=str(dump),
                              output_path=str(tmp_path / f"imported-{fmt}"))
        places = {source: "<in>", str(dump): "<in>", "file:": ""}
        assert_same_output(s3_files(lake, f"imported-{fmt}"), local_files(tmp_path / f"imported-{fmt}"), places,
                           parquet=True)
        assert rows(spark, f"s3://{BUCKET}/imported-{fmt}", "review_id") == \
            rows(spark, str(tmp_path / f"imported-{fmt}"), "review_id")

    tickets = tmp_path / "tickets"
    tickets.mkdir()
    (tickets / "tickets.csv").write_text("ticket_id,description,queue\n" + "".join(
        f"T{i},Ticket number {i} about {'billing' if i % 2 else 'login'},{'Billing' if i % 2 else 'Login'}\n"
        for i in range(40)))
    source = upload(lake, tickets, "tickets")
    for output in (f"s3://{BUCKET}/imported-tickets", str(tmp_path / "imported-tickets")):
        importer.import_table(rt, format="table", input_path=source if "s3" in output else
                              str(tickets), output_path=output, id_column="ticket_id",
                              text_column="description", label_column="queue")
    assert rows(spark, f"s3://{BUCKET}/imported-tickets", "review_id") == \
        rows(spark, str(tmp_path / "imported-tickets"), "review_id")


def test_pipeline_and_local_training_on_s3(rt, spark, lake, tmp_path):
    dump = tmp_path / "dump"
    write_sample_data(str(dump), 3000, seed=11, categories=["Books", "Electronics", "Home_and_Kitchen",
                                                            "Clothing_Shoes_and_Jewelry"], fmt="amazon-2023")
    source = upload(lake, dump, "pipeline-dump")
    pipeline.run(rt, namespace(pipeline.OPTIONS, format="amazon-2023", input_path=source,
                               output_path=f"s3://{BUCKET}/pipeline", no_train=True, min_chars=30))
    pipeline.run(rt, namespace(pipeline.OPTIONS, format="amazon-2023", input_path=str(dump),
                               output_path=str(tmp_path / "pipeline"), no_train=True, min_chars=30))
    places = {source: "<in>", str(dump): "<in>", f"s3://{BUCKET}/pipeline": "<out>", str(tmp_path / "pipeline"): "<out>",
              "file:": ""}
    assert_same_output(s3_files(lake, "pipeline"), local_files(tmp_path / "pipeline"), places, parquet=True)

    # train --backend local: the splits come from S3 (checked against the manifest), the model goes there
    out = train(data=f"s3://{BUCKET}/pipeline/prepared", output_path=f"s3://{BUCKET}/model",
                **FAST)
    assert out == f"s3://{BUCKET}/model"
    model = s3_files(lake, "model")
    assert {"model.bin", "metrics.json", "search.json", "report.md", "_reviewcat.json"} <= set(model)
    assert json.loads(model["metrics.json"])["model"] == f"s3://{BUCKET}/model/model.bin"
    with pytest.raises(ReviewcatError, match="already exists"):
        train(data=f"s3://{BUCKET}/pipeline/prepared", output_path=f"s3://{BUCKET}/model", **FAST)

    # a split that changed after prepare wrote it is refused, before any training
    lake.put_object(Bucket=BUCKET, Key="pipeline/prepared/test/test.txt", Body=b"__label__books changed\n")
    with pytest.raises(ReviewcatError, match="SHA-256 differs"):
        train(data=f"s3://{BUCKET}/pipeline/prepared", output_path=f"s3://{BUCKET}/model2", **FAST)
    assert not s3_files(lake, "model2")


def test_an_output_being_built_on_s3_is_refused_as_input_and_overwrite_replaces_it_whole(rt, lake, raw_path):
    raw = upload(lake, Path(raw_path), "inplace-raw")
    out = f"s3://{BUCKET}/inplace-balanced"
    balance.balance(rt, input_path=raw, output_path=out, per_class=50)
    first = set(s3_files(lake, "inplace-balanced"))
    # another host's run building it: its marker beside the output
    lake.put_object(Bucket=BUCKET, Key="inplace-balanced.__tmp-00000000-1-00000000", Body=b"{}")
    with pytest.raises(ReviewcatError, match="is being written by another run of reviewcat .its marker is "
                       "s3://lake/inplace-balanced.__tmp-00000000-1-00000000"):
        prepare.prepare(rt, input_path=out, output_path=f"s3://{BUCKET}/never")
    with pytest.raises(ReviewcatError, match="is being written by another run"):
        balance.balance(rt, input_path=raw, output_path=out, per_class=40, overwrite=True)
    assert set(s3_files(lake, "inplace-balanced")) == first  # the refused run touched nothing
    lake.delete_object(Bucket=BUCKET, Key="inplace-balanced.__tmp-00000000-1-00000000")
    balance.balance(rt, input_path=raw, output_path=out, per_class=40, overwrite=True)
    second = set(s3_files(lake, "inplace-balanced"))
    parquet = {name for name in second if name.endswith(".parquet")}
    assert parquet and not parquet & first  # the old run's files are gone, none mixed in
    assert not s3_files(lake, "never")


@pytest.mark.parametrize("left, marker, kept", [
    ({"run": "old"}, {"run": "new", "replaces": "old"}, True),   # died before touching the old output
    (None, {"run": "new", "replaces": "old"}, False),            # died while building: half-built
    ({"run": "new"}, {"run": "new", "replaces": None}, True),    # died after its run file: whole
    (None, "{not json", True),                                   # died writing its marker: nothing else
    ({}, {"run": "new", "replaces": ""}, True),                  # an old output without a run file: kept
])
def test_what_a_dead_in_place_build_leaves_is_removed_unless_whole(tmp_path, left, marker, kept):
    from reviewcat.runtime.publishing import LOCAL, remove_dead_build
    from reviewcat.schema import RUN_FILE
    final = tmp_path / "balanced"
    (final / "product_category=Books").mkdir(parents=True)
    (final / "product_category=Books" / "part-0.parquet").write_bytes(b"rows")
    if left:
        (final / RUN_FILE).write_text(json.dumps(left))
    dead = tmp_path / "balanced.__tmp-0a1b2c3d-4242-0a1b2c3d"
    dead.write_text(marker if isinstance(marker, str) else json.dumps({"building": str(final), **marker}))
    remove_dead_build(LOCAL, str(dead))
    assert final.exists() == kept and not dead.exists()


def test_glue_branch_reads_and_writes_s3_without_s3a_settings(glue, rt, spark, lake, raw_path, monkeypatch):
    """On Glue, s3:// is EMRFS, configured by Glue: nothing of reviewcat's S3A set-up may run there."""
    def refuse(*args, **kwargs):
        raise AssertionError("S3A settings asked for on Glue")
    monkeypatch.setattr(s3a, "settings", refuse)
    monkeypatch.setattr(s3a, "found_jars", refuse)
    raw = upload(lake, Path(raw_path), "glue-raw")
    argv = ["balance.py", "--JOB_NAME", "balance", "--input-path", raw, "--output-path", f"s3://{BUCKET}/glue-balanced"]
    assert run_job(argv, balance.OPTIONS, "balance", "", balance.run) == 0
    assert glue["job"][-1] == ("commit",)
    assert {name.split("/")[0] for name in s3_files(lake, "glue-balanced")} >= {"_balance.json", "_reviewcat.json"}


# --- cold command-line runs: jars and endpoint found as a user's would be, faults as one line -----

def reviewcat(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reviewcat.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def one_line(done: subprocess.CompletedProcess, prog: str) -> str:
    lines = [line for line in done.stderr.splitlines() if " INFO " not in line and " WARNING " not in line]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith(f"reviewcat {prog}: error: "), done.stderr
    return lines[0]


@pytest.fixture
def s3_env(tmp_path, moto_endpoint, lake):
    env = cli_env(tmp_path)
    env.update(KEYS, AWS_ENDPOINT_URL_S3=moto_endpoint, AWS_EC2_METADATA_DISABLED="true",
               REVIEWCAT_LOG_LEVEL="WARNING")
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "REVIEWCAT_S3A_JARS"):
        env.pop(name, None)
    return env


def test_command_line_reaches_s3_through_the_standard_variables_and_refuses_s3_faults(s3_env, lake, raw_path,
                                                                                      tmp_path):
    raw = upload(lake, Path(raw_path), "cli-raw")
    done = reviewcat(s3_env, "balance", "--input-path", raw, "--output-path", f"s3://{BUCKET}/cli-balanced")
    assert done.returncode == 0, done.stderr
    assert "_reviewcat.json" in s3_files(lake, "cli-balanced")

    line = one_line(reviewcat(s3_env, "balance", "--input-path", raw, "--output-path", "s3://no-such-bucket/out"),
                    "balance")
    assert "no-such-bucket" in line and "does not exist" in line

    line = one_line(reviewcat(s3_env, "balance", "--input-path", raw, "--output-path", f"{raw}/product_category=x"),
                    "balance")
    assert "is inside the input" in line

    anonymous = {k: v for k, v in s3_env.items() if k not in KEYS or k == "AWS_DEFAULT_REGION"}
    anonymous.update(HOME=str(tmp_path), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                     AWS_CONFIG_FILE=str(tmp_path / "none"))
    line = one_line(reviewcat(anonymous, "balance", "--input-path", raw, "--output-path", f"s3://{BUCKET}/anon"),
                    "balance")
    assert "credentials" in line
    assert not s3_files(lake, "anon")


def test_s3_refusals_through_s3a_are_one_line_each():
    """S3A's texts (as S3A 3.3.1 gave them here) of what S3 can refuse, each one line naming the output."""
    from reviewcat.runtime.failures import _explain_text

    def explain(text):
        return _explain_text(text, False, lambda file, column: None)
    assert explain("org.apache.hadoop.fs.s3a.auth.NoAuthWithAWSException: s3://lake/anon: No AWS Credentials provided "
                   "by TemporaryAWSCredentialsProvider") == ("no AWS credentials for s3://lake/anon: set "
                                                             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                                                             "AWS_PROFILE, or run where an instance role applies")
    assert explain("java.nio.file.AccessDeniedException: s3://lake/out.__tmp-0a7c9cdf-9247-a01dd3b1/x: getFileStatus "
                   "on s3://lake/out: com.amazonaws.services.s3.model.AmazonS3Exception: Access Denied (Service: "
                   "Amazon S3; Status Code: 403; Error Code: AccessDenied;") == (
        "access denied on s3://lake/out (AccessDenied): check the credentials and the bucket's policy")
    assert explain("org.apache.hadoop.fs.s3a.UnknownStoreException: s3://no-such-bucket/out\nCaused by: "
                   "AmazonS3Exception: The specified bucket does not exist (Error Code: NoSuchBucket") == (
        "bucket no-such-bucket does not exist (s3://no-such-bucket/out): create it, or check the path")


def test_without_the_jars_an_s3_path_is_one_line_saying_how_to_get_them(tmp_path, s3_env):
    s3_env["REVIEWCAT_S3A_JARS"] = str(tmp_path / "no-jars")
    line = one_line(reviewcat(s3_env, "balance", "--input-path", f"s3://{BUCKET}/raw", "--output-path",
                              str(tmp_path / "out")), "balance")
    assert "reviewcat s3-jars" in line


def test_a_run_cut_off_from_s3_fails_in_one_line_and_the_next_one_cleans_up(tmp_path, s3_env, raw_path):
    """The S3 server goes away while a job writes; once it is back, the next run succeeds and no
    multipart upload of the dead run is left to pay for."""
    from moto.server import ThreadedMotoServer
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # S3A retries a lost connection for minutes by default; a user shortens that the same way.
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "spark-defaults.conf").write_text(
        "spark.hadoop.fs.s3a.attempts.maximum 1\nspark.hadoop.fs.s3a.retry.limit 1\n"
        "spark.hadoop.fs.s3a.retry.interval 100ms\n")
    env = {**s3_env, "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}", "SPARK_CONF_DIR": str(tmp_path / "conf")}
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"])
    client.create_bucket(Bucket="flaky")
    try:
        raw = "s3://flaky/raw"
        for path in sorted(p for p in Path(raw_path).rglob("*") if p.is_file()):
            client.upload_file(str(path), "flaky", f"raw/{path.relative_to(raw_path).as_posix()}")
        run = subprocess.Popen([sys.executable, "-m", "reviewcat.cli", "prepare", "--input-path", raw,
                                "--output-path", "s3://flaky/prepared"], env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120  # until Spark's tasks write the output
        while time.monotonic() < deadline and not client.list_objects_v2(
                Bucket="flaky", Prefix="prepared/").get("KeyCount"):
            time.sleep(0.2)
        server.stop()
        _, stderr = run.communicate(timeout=600)
        done = subprocess.CompletedProcess(run.args, run.returncode, "", stderr)
        line = one_line(done, "prepare")
        assert "127.0.0.1" in line or "S3" in line
        server.start()
        # A multipart upload that a dead run of this host left in its staging folder.
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
        from reviewcat.runtime.staging import staging_name
        orphan = staging_name("prepared").replace(f"-{os.getpid()}-", f"-{dead}-")
        client.create_multipart_upload(Bucket="flaky", Key=f"{orphan}/train/train.txt")
        done = reviewcat(env, "prepare", "--input-path", raw, "--output-path", "s3://flaky/prepared")
        assert done.returncode == 0, done.stderr
        assert not [k for k in all_keys(client, "flaky") if ".__tmp" in k or ".__old" in k or "__magic" in k]
        assert not client.list_multipart_uploads(Bucket="flaky").get("Uploads")
    finally:
        server.stop()
