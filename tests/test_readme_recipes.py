"""The README's recipes, each block run as written by bash in a fresh folder: the README cannot drift
from the code. The recipes run in the README's order, in one folder (scoring uses the first one's
model); the AWS recipe against a moto server of its own."""
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import pytest

from conftest import ROOT, TOOLS_BIN, cli_env
from helpers import (moto_builds_glue_jobs_and_workflows, moto_lists_a_tuning_jobs_training_jobs,
                     moto_workflow_runs_end, moto_workflow_runs_prepare)

# moto's CloudFormation skips what it cannot build (Glue, bucket policies) with a warning each: expected.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.*not supported by moto:UserWarning")


def recipes() -> dict[str, str]:
    """Each "### " recipe under the README's "## Recipes": its title and its first bash block."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Recipes\n", 1)[1].split("\n## ", 1)[0]
    found = {}
    for part in section.split("\n### ")[1:]:
        title, body = part.split("\n", 1)
        found[title.strip()] = re.search(r"```bash\n(.*?)```", body, re.S).group(1)
    return found


RECIPES = recipes()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("user")


def run(script: str, folder: Path, **env: str) -> subprocess.CompletedProcess:
    environment = cli_env(folder)
    # The `reviewcat` of this checkout, then the AWS CLI of the tools' virtualenv.
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(TOOLS_BIN), environment["PATH"]])
    environment["REVIEWCAT_LOG_LEVEL"] = "INFO"
    environment.update(env)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=folder, env=environment,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return done


def test_the_readme_has_the_five_recipes():
    assert list(RECIPES) == ["Your Amazon reviews dump", "Your tickets CSV", "Sentiment and bias",
                             "Scoring new data", "AWS Glue and SageMaker"]


def test_your_amazon_dump(folder):
    done = run(RECIPES["Your Amazon reviews dump"], folder)
    metrics = json.loads((folder / "amazon/run/model/metrics.json").read_text())
    assert metrics["accuracy"] > 0.5
    imported = json.loads((folder / "amazon/run/imported/_import.json").read_text())
    assert imported["rows"] == 60_000
    assert done.stdout.count("\n") >= 1 and "# " in done.stdout  # report.md, then the prediction
    assert re.search(r"^\S.* \d\.\d{3}", done.stdout.strip().splitlines()[-1])


def test_your_tickets_csv(folder):
    done = run(RECIPES["Your tickets CSV"], folder)
    metrics = json.loads((folder / "tickets/work/model/metrics.json").read_text())
    assert metrics["accuracy"] > 0.7 and metrics["top_k"]["accuracy"] > 0.9
    scored = json.loads((folder / "tickets/scored/_predict.json").read_text())
    assert scored["rows"] == 5000 and scored["id_column"] == "Ticket ID" and scored["kept_columns"] == ["Channel"]
    assert scored["drift"]["retrain"] is False
    queues = {p.name for p in (folder / "tickets/scored").iterdir() if p.is_dir()}
    assert queues == {"prediction=Billing & Payments", "prediction=Login %2F Access", "prediction=Returns & Refunds",
                      "prediction=Shipping & Delivery", "prediction=Technical Issue"}
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "drift over 5,000 rows:" and lines[-1].startswith("no drift beyond the limits")


def test_sentiment_and_bias(folder):
    done = run(RECIPES["Sentiment and bias"], folder)
    before = json.loads((folder / "lake/bias-raw/bias.json").read_text())
    after = json.loads((folder / "lake/bias-balanced/bias.json").read_text())
    assert before["facet"] == after["facet"] == "product_category"
    for name in ("bias-raw", "bias-balanced"):
        assert "| Books |" in (folder / "lake" / name / "bias.md").read_text()
        assert (folder / "lake" / name / "bias.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((folder / "lake/model/metrics.json").read_text())
    assert metrics["accuracy"] > 0.6
    assert done.stdout.strip().splitlines()[-1].startswith("negative ")


def test_scoring_new_data(folder):
    if not (folder / "amazon/run/model/model.bin").is_file():
        pytest.skip("needs the first recipe's model")
    done = run(RECIPES["Scoring new data"], folder)
    scored = json.loads((folder / "new/scored/_predict.json").read_text())
    assert scored["rows"] == 20_000 and scored["kept_columns"] == ["product_category"]
    answers = [json.loads(line) for line in done.stdout.strip().splitlines()[-2:]]
    assert [a["id"] for a in answers] == ["r1", "r2"] and all(len(a["labels"]) == 2 for a in answers)
    assert "drift over 20,000 rows:" in done.stdout


def test_aws_glue_and_sagemaker(aws_env, best_job, prepared_dir, trained, tmp_path, monkeypatch):
    """From deploy to destroy on the moto server: the workflow writes what the prepare job would, and
    the tuning job's best training job has a real model (moto runs neither)."""
    moto_builds_glue_jobs_and_workflows(monkeypatch)
    moto_workflow_runs_prepare(monkeypatch, prepared_dir)
    moto_workflow_runs_end(monkeypatch)
    moto_lists_a_tuning_jobs_training_jobs(monkeypatch)
    answer = [{"label": ["__label__camera", "__label__books"], "prob": [0.8, 0.1]}]
    canned = json.dumps({"results": [{"Body": json.dumps(answer), "ContentType": "application/json"}]}).encode()
    urllib.request.urlopen(urllib.request.Request(  # moto's documented way to set InvokeEndpoint's reply
        f"{aws_env}/moto-api/static/sagemaker/endpoint-results", data=canned,
        headers={"Content-Type": "application/json"}, method="POST"), timeout=10).close()
    done = run(RECIPES["AWS Glue and SageMaker"], tmp_path, AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
               AWS_CONFIG_FILE="/nonexistent", AWS_EC2_METADATA_DISABLED="true")
    sagemaker = boto3.client("sagemaker")
    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="acme-tuning-1")
    assert tuning["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 10
    assert json.loads((tmp_path / "model" / "metrics.json").read_text())["examples"] > 0
    lines = done.stdout.splitlines()
    assert "stack reviewcat: CREATE_COMPLETE" in lines and "Camera 0.800  Books 0.100" in lines
    assert "deleted endpoint acme" in lines and "acme" not in [
        e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    emptied = {line.split(":", 2)[1].removeprefix("//"): int(line.split(": ")[1].split()[0])
               for line in lines if line.startswith("emptied s3://")}
    assert len(emptied) == 2 and max(emptied.values()) > 34, emptied  # the 34 dumps, the library, the splits
    assert "deleted stack reviewcat" in lines
    with pytest.raises(Exception, match="does not exist"):
        boto3.client("cloudformation").describe_stacks(StackName="reviewcat")
