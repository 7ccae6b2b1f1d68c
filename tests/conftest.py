"""Shared fixtures: one local SparkSession for the whole run and small generated review tables."""
from __future__ import annotations

import io
import logging
import os
import shutil
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import boto3
import pytest

from reviewcat.prep import balance, prepare
from reviewcat.runtime.context import Runtime
from reviewcat.runtime.session import spark_session
from reviewcat.synthetic.sample_data import write_sample_data
from reviewcat.tables.catalog import crawl
from reviewcat.train.commands import train

ROOT = Path(__file__).resolve().parents[1]
# checkov, cfn-lint and the Glue predict job's fastText live in a virtualenv of their own (their pins
# and module names clash with the project's), built by `make test`, which names it here.
TOOLS_BIN = Path(os.environ.get("REVIEWCAT_TOOLS_BIN", ROOT / ".venv-tools" / "bin"))

# A handful of categories of very different sizes keeps the Spark tests quick.
CATEGORIES = ["Books", "Wireless", "Kitchen", "Camera", "Watches", "Gift_Card"]


# The test files that take longest, longest first (measured on 2 cores). `make test` hands a file at a
# time to each of its pytest-xdist workers in collection order: started first, they no longer keep one
# worker busy while the other has finished.
LONGEST_FIRST = ("test_s3.py", "test_bench.py", "test_reliability.py", "test_readme_recipes.py", "test_train.py",
                 "test_user_mistakes.py", "test_entry_points.py", "test_cluster.py", "test_notebooks.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests keep their order


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    os.environ.setdefault("REVIEWCAT_MASTER", "local[2]")
    os.environ.setdefault("REVIEWCAT_DRIVER_MEMORY", "2g")
    session = spark_session(str(tmp_path_factory.mktemp("warehouse")), app_name="reviewcat-tests")
    session.conf.set("spark.sql.shuffle.partitions", "4")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def rt(spark) -> Runtime:
    return Runtime(spark)


@pytest.fixture(scope="session")
def raw_path(tmp_path_factory) -> str:
    """~6k reviews over six categories, Books about 130x Gift_Card as in the real data."""
    path = tmp_path_factory.mktemp("raw") / "reviews"
    write_sample_data(str(path), 6000, seed=7, categories=CATEGORIES)
    return str(path)


@pytest.fixture(scope="session")
def raw_table(rt, raw_path) -> tuple[str, str]:
    crawl(rt, raw_path, "rawdb", "reviews")
    return "rawdb", "reviews"


@pytest.fixture
def copy_of(tmp_path):
    """A private copy of a shared fixture folder, for tests that damage or extend it."""
    def make(path: str) -> str:
        target = tmp_path / Path(path).name
        shutil.copytree(path, target)
        return str(target)
    return make


TRAIN_CATEGORIES = ["Books", "Camera", "Kitchen", "Pet_Products", "Shoes"]
# Small data learns only at a higher rate than BlazingText's range, which assumes millions of rows.
FAST = dict(backend="local", range=["learning_rate=0.3:1.0"], static=["buckets=20000"], max_jobs=4)


@pytest.fixture(scope="session")
def table(tmp_path_factory) -> str:
    """Reviews the model never saw (another seed), with every row's text kept, empty ones too."""
    path = tmp_path_factory.mktemp("score") / "reviews"
    write_sample_data(str(path), 1500, seed=11, categories=TRAIN_CATEGORIES)
    return str(path)


@pytest.fixture(scope="session")
def prepared_dir(rt, tmp_path_factory) -> str:
    """A real prepare output: five categories from different product groups, balanced."""
    root = tmp_path_factory.mktemp("train-data")
    write_sample_data(str(root / "raw"), 12_000, seed=3, categories=TRAIN_CATEGORIES)
    balance.balance(rt, input_path=str(root / "raw"), output_path=str(root / "balanced"))
    prepare.prepare(rt, input_path=str(root / "balanced"), output_path=str(root / "prepared"))
    return str(root / "prepared")


@pytest.fixture(scope="session")
def trained(prepared_dir, tmp_path_factory) -> Path:
    """The model most tests use, with its quantized copy (model.ftz) as the demo makes it."""
    return train(data=prepared_dir, output_path=str(tmp_path_factory.mktemp("m") / "model"), quantize=True, **FAST)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KB filesystem, mounted for the test (root only)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


REGION = "us-east-1"
BUCKET = "reviewcat-test"
ROLE = "arn:aws:iam::123456789012:role/ReviewcatSageMaker"
BLAZINGTEXT = "811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1"


@pytest.fixture(scope="session")
def moto_endpoint():
    """One moto server on 127.0.0.1 for the run: real boto3 and SDK HTTP, no AWS."""
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request, in every failure's report
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch):
    """Credentials and region for moto; every client (SDK ones too) goes to the local server."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": moto_endpoint,
                        # The SDK checks the role with iam:SimulatePrincipalPolicy, which moto lacks.
                        "SAGEMAKER_VALIDATE_ROLE": "false"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3 = boto3.client("s3", region_name=REGION)
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    return moto_endpoint


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    """``reviewcat ARGS`` run in this process with its own warehouse (for its logs): (exit code,
    stdout, stderr)."""
    from reviewcat import cli as command_line
    monkeypatch.setenv("REVIEWCAT_WAREHOUSE", str(tmp_path / "cli-warehouse"))

    def run(*argv) -> tuple[int, str, str]:
        capsys.readouterr()
        code = command_line.main([str(word) for word in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def _blazingtext_archive(trained) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(trained / "model.bin", arcname="model.bin")
    return buffer.getvalue()


@pytest.fixture
def best_job(aws_env, trained):
    """moto finishes tuning jobs at once and names a fixed best job: make that job, with a real model."""
    client = boto3.client("sagemaker", region_name=REGION)
    names = [j["TrainingJobName"] for j in client.list_training_jobs()["TrainingJobSummaries"]]
    if "FakeTrainingJobName" not in names:
        client.create_training_job(
            TrainingJobName="FakeTrainingJobName", RoleArn=ROLE,
            AlgorithmSpecification={"TrainingImage": BLAZINGTEXT, "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/best"},
            ResourceConfig={"InstanceType": "ml.c5.4xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 3600})
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=BUCKET, Key="best/FakeTrainingJobName/output/model.tar.gz", Body=_blazingtext_archive(trained))
    return "FakeTrainingJobName"


def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for subprocess runs: their own catalog, two cores, this interpreter for workers."""
    env = dict(os.environ)
    env.update(REVIEWCAT_WAREHOUSE=str(tmp_path / "cli-warehouse"), REVIEWCAT_MASTER="local[2]",
               REVIEWCAT_DRIVER_MEMORY="1g", PYSPARK_PYTHON=sys.executable, REVIEWCAT_LOG_LEVEL="WARNING")
    return env


class FakeDynamicFrame:
    def __init__(self, frame):
        self._frame = frame

    def toDF(self):
        return self._frame


@pytest.fixture
def glue(monkeypatch, spark):
    """The Glue branch with GlueContext and Job recorded (they need Glue's JVM classes); the rest of
    awsglue is real."""
    import awsglue.context
    import awsglue.job
    from awsglue.dynamicframe import DynamicFrameReader

    record = {"reads": [], "job": []}

    class RecordingGlueContext:
        def __init__(self, spark_context):
            assert spark_context is spark.sparkContext
            self.spark_session = spark
            self.create_dynamic_frame = DynamicFrameReader(self)

        def create_dynamic_frame_from_catalog(self, db, table_name, redshift_tmp_dir, transformation_ctx,
                                              push_down_predicate, additional_options, catalog_id, **kwargs):
            record["reads"].append({"database": db, "table": table_name, "predicate": push_down_predicate,
                                    "ctx": transformation_ctx})
            return FakeDynamicFrame(spark.table(f"{db}.{table_name}").where(push_down_predicate))

    class RecordingJob:
        def __init__(self, glue_context):
            assert isinstance(glue_context, RecordingGlueContext)

        def init(self, name, args):
            record["job"].append(("init", name, args["output_path"]))

        def commit(self):
            record["job"].append(("commit",))

    monkeypatch.setattr(awsglue.context, "GlueContext", RecordingGlueContext)
    monkeypatch.setattr(awsglue.job, "Job", RecordingJob)
    return record
