"""What a run cost, from the answers of the services that bill it.

The talk prices its model by hand: the DPU-hours of each Glue job and the hours of each training
job, about $10 in all. Both quantities are in the APIs: GetJobRun gives a Glue job run's DPU-seconds
(``DPUSeconds`` for auto-scaled runs, else its execution time times its DPUs, with Glue's one-minute
minimum), and DescribeTrainingJob a training job's billable seconds per instance. The prices are
on-demand list prices in us-east-1; another region or a discount is a ``--price name=value`` away.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from reviewcat.aws.glue_runs import job_runs
from reviewcat.runtime.errors import ReviewcatError

log = logging.getLogger(__name__)

GLUE_PRICE = "glue-dpu-hour"
# USD per Glue DPU-hour, and per instance-hour of SageMaker training for the instance types a
# BlazingText tuning job is likely to use (reviewcat's default is ml.c5.4xlarge).
PRICES = {GLUE_PRICE: 0.44, "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.c5.xlarge": 0.204,
          "ml.c5.2xlarge": 0.408, "ml.c5.4xlarge": 0.816, "ml.c5.9xlarge": 1.836, "ml.p3.2xlarge": 3.825}
# Glue 2.0 and later bill Spark job runs by the second, with a minimum of one minute.
GLUE_MINIMUM_SECONDS = 60
# DPUs per worker, for runs whose answer gives the workers but not MaxCapacity.
DPU_PER_WORKER = {"G.025X": 0.25, "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8, "G.12X": 12, "G.16X": 16,
                  "R.1X": 1, "R.2X": 2, "R.4X": 4, "R.8X": 8}


@dataclass(frozen=True)
class Charge:
    """One billed thing: ``seconds`` of the priced unit (DPU or instance) at ``price`` per hour."""
    what: str
    seconds: float
    unit: str
    price: str

    def cost(self, prices: Mapping[str, float]) -> float:
        return self.seconds / 3600 * prices[self.price]


def parse_prices(pairs: Sequence[str] | None) -> dict[str, float]:
    """The price table with ``name=value`` overrides (USD per DPU-hour or per instance-hour)."""
    prices = dict(PRICES)
    for pair in pairs or []:
        name, _, value = pair.partition("=")
        try:
            prices[name.strip()] = float(value)
        except ValueError:
            raise ReviewcatError(f"--price {pair!r}: write name=USD per hour, e.g. {GLUE_PRICE}=0.44 "
                                 "or ml.c5.4xlarge=0.816") from None
        if not name.strip() or prices[name.strip()] < 0:
            raise ReviewcatError(f"--price {pair!r}: write name=USD per hour, a name and a price of 0 or more")
    return prices


def glue_charge(run: Mapping[str, Any]) -> Charge:
    """A Glue job run's DPU-seconds, from GetJobRun's answer."""
    what = f"Glue job {run['JobName']} run {run['Id']} ({run.get('JobRunState', '?')})"
    if run.get("DPUSeconds") is not None:  # auto-scaled runs report what they used
        return Charge(what, float(run["DPUSeconds"]), "DPU-s", GLUE_PRICE)
    dpus = run.get("MaxCapacity") or run.get("NumberOfWorkers", 0) * DPU_PER_WORKER.get(run.get("WorkerType"), 0)
    if not dpus:
        raise ReviewcatError(f"{what}: the answer gives neither its DPUs nor its workers: "
                             "price it from the Glue console")
    seconds = run.get("ExecutionTime") or 0
    return Charge(what, (max(seconds, GLUE_MINIMUM_SECONDS) if seconds else 0) * dpus, "DPU-s", GLUE_PRICE)


def workflow_charges(glue: Any, run: Mapping[str, Any]) -> list[Charge]:
    """Each job run of a workflow run (GetWorkflowRun's answer with its graph), priced by its own
    GetJobRun answer."""
    return [glue_charge(glue.get_job_run(JobName=r["JobName"], RunId=r["Id"])["JobRun"]) for r in job_runs(run)]


def tuning_charges(sagemaker: Any, tuning_job: str) -> list[Charge]:
    """Each training job of a tuning job: billable seconds times instances (DescribeTrainingJob)."""
    pages = sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName=tuning_job)
    charges = []
    for name in [s["TrainingJobName"] for page in pages for s in page["TrainingJobSummaries"]]:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        resources = job["ResourceConfig"]
        charges.append(Charge(f"training job {job['TrainingJobName']} ({job['TrainingJobStatus']})",
                              float(job.get("BillableTimeInSeconds", 0)) * resources.get("InstanceCount", 1),
                              f"instance-s on {resources['InstanceType']}", resources["InstanceType"]))
    return charges


def latest_tuning_job(sagemaker: Any, after: Any) -> str | None:
    """The newest tuning job named like reviewcat's (reviewcat-<time>) created after ``after``; none
    when SageMaker may not be asked (a Glue-only user still gets the Glue jobs' cost)."""
    from botocore.exceptions import ClientError

    from reviewcat.train.sagemaker_backend import JOB_PREFIX  # not at the top: its package imports Spark
    try:
        jobs = sagemaker.list_hyper_parameter_tuning_jobs(
            NameContains=JOB_PREFIX, CreationTimeAfter=after, SortBy="CreationTime", SortOrder="Descending",
            MaxResults=1)["HyperParameterTuningJobSummaries"]
    except ClientError as exc:
        log.warning("no training cost: SageMaker's tuning jobs cannot be listed (%s)", exc.response["Error"]["Code"])
        return None
    return jobs[0]["HyperParameterTuningJobName"] if jobs else None


def report(charges: Iterable[Charge], prices: Mapping[str, float]) -> list[str]:
    """A line per charge and the total; an instance type without a price is an error."""
    charges = list(charges)
    missing = sorted({c.price for c in charges} - set(prices))
    if missing:
        raise ReviewcatError(f"no price for {', '.join(missing)}: pass --price {missing[0]}=<USD per hour>")
    lines = [f"  {c.what}: {c.seconds:,.0f} {c.unit} x ${prices[c.price]:g}/h = ${c.cost(prices):.2f}"
             for c in charges]
    total = sum(c.cost(prices) for c in charges)
    return lines + [f"  total: ${total:.2f}"]
