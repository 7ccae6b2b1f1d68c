"""predict-table --sagemaker-job: a Batch Transform job on the table's tokens, against a local moto server.

moto takes the model and the transform job and reports the job Completed at once, but runs no
container. So a stand-in for BlazingText (fastText on the same model, answering in BlazingText's
documented JSON Lines, with the job's input filter, join and output filter applied as SageMaker
documents them) writes the answers the real container would. The requests themselves are asserted
as SageMaker received them.
"""
import json
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.object_store import split_uri
from reviewcat.scoring import batch_transform, predict_table
from reviewcat.train.model import load_model, top_k

from conftest import BUCKET, REGION
from helpers import leftovers

ROLE = "arn:aws:iam::123456789012:role/ReviewcatSageMaker"
BLAZINGTEXT = "811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1"


def blazingtext(s3, model, job: dict) -> int:
    """Answer every request line as the transform job would; returns the number of lines answered."""
    processing = job["DataProcessing"]
    assert processing["InputFilter"] == "$.request" and processing["JoinSource"] == "Input"
    kept = ["id", "keep", "SageMakerOutput"]
    assert processing["OutputFilter"] == "$[" + ",".join(f"'{k}'" for k in kept) + "]"
    bucket, prefix = split_uri(job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
    out_bucket, out_prefix = split_uri(job["TransformOutput"]["S3OutputPath"])
    answered = 0
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/").get("Contents", []):
        lines = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode().splitlines()
        out = []
        for line in lines:
            record = json.loads(line)
            request = record["request"]
            [pairs] = top_k(model, [request["source"]], request["k"])
            joined = {**record, "SageMakerOutput": {"prob": [p for _, p in pairs], "label": [lb for lb, _ in pairs]}}
            out.append(json.dumps({k: joined[k] for k in kept}))
        name = item["Key"][len(prefix) + 1:]
        s3.put_object(Bucket=out_bucket, Key=f"{out_prefix}/{name}.out", Body="\n".join(out).encode())
        answered += len(lines)
    return answered


@pytest.fixture
def training_job(aws_env):
    """A completed BlazingText training job in moto, as a tuning job's best job would be."""
    client = boto3.client("sagemaker", region_name=REGION)
    name = "reviewcat-bt-1"
    if name not in [j["TrainingJobName"] for j in client.list_training_jobs()["TrainingJobSummaries"]]:
        client.create_training_job(
            TrainingJobName=name, RoleArn=ROLE, HyperParameters={"mode": "supervised"},
            AlgorithmSpecification={"TrainingImage": BLAZINGTEXT, "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/tuning"},
            ResourceConfig={"InstanceType": "ml.c5.4xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 3600})
    return name


def score(rt, **values):
    return predict_table.predict_table(rt, **values)


def test_a_sagemaker_model_scores_every_row_as_the_local_model_does(rt, spark, trained, table, training_job,
                                                                    tmp_path, monkeypatch):
    sagemaker, s3 = (boto3.client(s, region_name=REGION) for s in ("sagemaker", "s3"))
    model, answered, follow = load_model(str(trained / "model.bin")), [], batch_transform.follow

    def run_then_follow(client, name, **_):
        answered.append(blazingtext(s3, model, client.describe_transform_job(TransformJobName=name)))
        return follow(client, name, poll_seconds=0)

    monkeypatch.setattr(batch_transform, "follow", run_then_follow)
    out = tmp_path / "scored"
    summary = score(rt, input_path=table, sagemaker_job=training_job, labels=str(trained / "labels.json"),
                    output_path=str(out), top_k=3, s3_output=f"s3://{BUCKET}/scoring", instance_count=2)

    job = sagemaker.describe_transform_job(TransformJobName=summary["transform_job"])
    prefix = f"s3://{BUCKET}/scoring/{summary['transform_job']}"
    assert job["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{prefix}/requests/"}},
        "ContentType": "application/jsonlines", "SplitType": "Line", "CompressionType": "None"}
    assert job["TransformOutput"] == {"S3OutputPath": f"{prefix}/answers/", "Accept": "application/jsonlines",
                                      "AssembleWith": "Line"}
    assert job["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 2}
    assert job["BatchStrategy"] == "MultiRecord"
    uploaded = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"scoring/{summary['transform_job']}/requests/")["Contents"]
    assert uploaded and all(o["Key"].rsplit("/", 1)[1].startswith("part-") and o["Size"] for o in uploaded)
    deployed = sagemaker.describe_model(ModelName=job["ModelName"])
    artifact = sagemaker.describe_training_job(TrainingJobName=training_job)["ModelArtifacts"]["S3ModelArtifacts"]
    assert deployed["PrimaryContainer"]["Image"] == BLAZINGTEXT
    assert deployed["PrimaryContainer"]["ModelDataUrl"] == artifact
    assert deployed["ExecutionRoleArn"] == ROLE

    # Every row was asked once, with training's tokens, and the answers are the local job's.
    raw = spark.read.parquet(table)
    assert answered == [raw.count()] == [summary["rows"]]
    local = tmp_path / "local"
    score(rt, input_path=table, model=str(trained / "model.bin"), output_path=str(local), top_k=3)
    remote_rows = {r["review_id"]: r for r in spark.read.parquet(str(out)).collect()}
    local_rows = {r["review_id"]: r for r in spark.read.parquet(str(local)).collect()}
    assert remote_rows.keys() == local_rows.keys()
    for key, row in local_rows.items():
        assert remote_rows[key]["labels"] == row["labels"]
        assert remote_rows[key]["product_category"] == row["product_category"]
        assert remote_rows[key]["probabilities"] == pytest.approx(row["probabilities"], abs=1e-9)
    def layout(folder):
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith(("part-", ".part-")))
    assert layout(out) == layout(local)  # no work folder left
    assert not leftovers(str(out))
    # An id travels as JSON text and comes back as the input's type (here a number).
    score(rt, input_path=table, sagemaker_job=training_job, id_column="helpful_votes", output_path=str(tmp_path / "n"),
          s3_output=f"s3://{BUCKET}/scoring")
    assert dict(spark.read.parquet(str(tmp_path / "n")).dtypes)["helpful_votes"] == "int"


def test_sagemaker_scoring_problems_are_one_line_errors_that_write_nothing(rt, spark, trained, table, training_job,
                                                                           tmp_path, monkeypatch):
    out = tmp_path / "scored"
    with pytest.raises(ReviewcatError, match="needs --s3-output"):
        score(rt, input_path=table, sagemaker_job=training_job, output_path=str(out))
    with pytest.raises(ReviewcatError, match="no SageMaker tuning or training job named reviewcat-nope"):
        score(rt, input_path=table, sagemaker_job="reviewcat-nope", output_path=str(out),
              s3_output=f"s3://{BUCKET}/scoring")
    # No region, then no credentials: one line each, before any Spark work.
    with monkeypatch.context() as env:
        env.delenv("AWS_DEFAULT_REGION")
        env.delenv("AWS_REGION", raising=False)
        env.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        with pytest.raises(ReviewcatError, match="cannot reach SageMaker: You must specify a region"):
            score(rt, input_path=table, sagemaker_job=training_job, output_path=str(out), s3_output=f"s3://{BUCKET}/x")
        env.delenv("AWS_ACCESS_KEY_ID")
        env.delenv("AWS_SECRET_ACCESS_KEY")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        with pytest.raises(ReviewcatError, match="cannot ask SageMaker for job reviewcat-bt-1: Unable to locate credentials"):
            score(rt, input_path=table, sagemaker_job=training_job, output_path=str(out), s3_output=f"s3://{BUCKET}/x",
                  region=REGION)
    with pytest.raises(ReviewcatError, match="cannot upload the requests to s3://no-such-bucket/x/reviewcat-score-"):
        score(rt, input_path=table, sagemaker_job=training_job, output_path=str(out), s3_output="s3://no-such-bucket/x")

    def failed(client, name, **_):
        raise ReviewcatError(f"transform job {name} failed: ClientError: the container exited")

    # A table whose partitions hold only empty files starts no job and gets an empty output, as
    # local scoring gives it, partitioned or not.
    empty = tmp_path / "empty"
    partition = next(Path(table).glob("product_category=*"))
    (empty / partition.name).mkdir(parents=True)
    for part in partition.glob("*.parquet"):
        pq.write_table(pq.ParquetFile(part).schema_arrow.empty_table(), empty / partition.name / part.name)
    jobs = boto3.client("sagemaker", region_name=REGION).list_transform_jobs()["TransformJobSummaries"]
    for name, values in [("remote", dict(sagemaker_job=training_job, s3_output=f"s3://{BUCKET}/x")),
                         ("local", dict(model=str(trained / "model.bin")))]:
        nothing = score(rt, input_path=str(empty), output_path=str(tmp_path / name), partition_by_prediction=True,
                        **values)
        assert nothing["rows"] == 0 and "transform_job" not in nothing
        assert spark.read.parquet(str(tmp_path / name)).columns == [
            "review_id", "product_category", "labels", "probabilities", "prediction"]
    assert boto3.client("sagemaker", region_name=REGION).list_transform_jobs()["TransformJobSummaries"] == jobs
    # A kept column JSON cannot carry back is refused before any job starts.
    with pytest.raises(ReviewcatError, match=r"kept column tags \(map<string,string>\) cannot travel"):
        frame = spark.read.parquet(table).withColumn("tags", F.create_map(F.lit("k"), F.col("marketplace")))
        frame.limit(5).write.parquet(str(tmp_path / "mapped"))
        score(rt, input_path=str(tmp_path / "mapped"), sagemaker_job=training_job, output_path=str(out),
              s3_output=f"s3://{BUCKET}/x", keep_columns="tags")
    assert boto3.client("sagemaker", region_name=REGION).list_transform_jobs()["TransformJobSummaries"] == jobs

    monkeypatch.setattr(batch_transform, "follow", failed)
    with pytest.raises(ReviewcatError, match="transform job reviewcat-score-.* failed"):
        score(rt, input_path=table, sagemaker_job=training_job, output_path=str(out), s3_output=f"s3://{BUCKET}/x")
    assert not out.exists() and not leftovers(str(out))


def test_follow_reports_a_failed_transform_job_with_its_reason():
    class Client:
        def __init__(self):
            self.answers = iter([{"TransformJobStatus": "InProgress"},
                                 {"TransformJobStatus": "Failed", "FailureReason": "AlgorithmError: bad input"}])

        def describe_transform_job(self, TransformJobName):
            return next(self.answers)

    with pytest.raises(ReviewcatError, match="transform job j failed: AlgorithmError: bad input"):
        batch_transform.follow(Client(), "j", poll_seconds=0)
