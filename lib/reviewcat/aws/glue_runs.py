"""What went wrong in a Glue workflow run: its failed job runs and crawls, their errors and logs.

A workflow run only counts its failed actions; GetWorkflowRun with the graph names each job run
and crawl, and GetJobRun gives a job run's error message and log group. Glue writes a job run's
logs to CloudWatch groups under that name (``/error``, ``/output``, and with continuous logging
more) in streams that start with the job run's id, so the logs are found by those two prefixes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Glue's default, when a job run's answer names no log group.
DEFAULT_LOG_GROUP = "/aws-glue/jobs"
FAILED_JOB = ("FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED")
FAILED_CRAWL = ("FAILED", "CANCELLED", "ERROR")


@dataclass(frozen=True)
class Failure:
    """One failed job run or crawl of a workflow run: where its logs are, and what it said."""
    what: str  # "job reviewcat-balance-reviews run jr_..." or "crawler reviewcat-raw"
    state: str
    message: str
    log_group: str  # a CloudWatch log group, or the prefix of the job run's groups
    log_stream: str  # a stream, or the prefix of the job run's streams
    started: Any = None  # when it ran (datetimes): its log lines are those of that time
    ended: Any = None

    def line(self) -> str:
        return (f"{self.what} {self.state}: {self.message or 'no error message'} "
                f"(CloudWatch logs: group {self.log_group}*, stream {self.log_stream}*)")


def job_runs(run: dict) -> list[dict]:
    """The job runs a workflow run's graph names (GetWorkflowRun with IncludeGraph), as listed there."""
    return [job_run for node in run.get("Graph", {}).get("Nodes", []) if node.get("Type", "JOB") == "JOB"
            for job_run in (node.get("JobDetails") or {}).get("JobRuns", [])]


def failures(glue: Any, workflow: str, run_id: str) -> list[Failure]:
    """The failed job runs and crawls of a workflow run, from its graph and GetJobRun."""
    run = glue.get_workflow_run(Name=workflow, RunId=run_id, IncludeGraph=True)["Run"]
    found = []
    for job_run in job_runs(run):
        if job_run.get("JobRunState") not in FAILED_JOB:
            continue
        full = glue.get_job_run(JobName=job_run["JobName"], RunId=job_run["Id"])["JobRun"]
        found.append(Failure(f"job {full['JobName']} run {full['Id']}", full.get("JobRunState", "FAILED"),
                             full.get("ErrorMessage", ""), full.get("LogGroupName") or DEFAULT_LOG_GROUP,
                             full["Id"], full.get("StartedOn"), full.get("CompletedOn")))
    for node in run.get("Graph", {}).get("Nodes", []):
        for crawl in (node.get("CrawlerDetails") or {}).get("Crawls", []):
            if crawl.get("State") in FAILED_CRAWL:
                # A crawler's stream is its name, across all its crawls: this crawl's lines by its time.
                found.append(Failure(f"crawler {node.get('Name')}", crawl["State"], crawl.get("ErrorMessage", ""),
                                     crawl.get("LogGroup") or "/aws-glue/crawlers", crawl.get("LogStream") or "",
                                     crawl.get("StartedOn"), crawl.get("CompletedOn")))
    return found


def log_lines(logs: Any, failure: Failure, limit: int) -> list[str]:
    """The last ``limit`` log lines of a failure, from every log group and stream its prefixes name."""
    groups = [g["logGroupName"] for page in logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=failure.log_group) for g in page["logGroups"]]
    window = {name: int(moment.timestamp() * 1000) + slack for name, moment, slack in
              (("startTime", failure.started, -60_000), ("endTime", failure.ended, 60_000)) if moment is not None}
    events = []
    for group in groups:
        arguments = {"logGroupName": group, **window,
                     **({"logStreamNamePrefix": failure.log_stream} if failure.log_stream else {})}
        for page in logs.get_paginator("filter_log_events").paginate(**arguments):
            events += [(e["timestamp"], group, e.get("logStreamName", ""), e["message"].rstrip())
                       for e in page["events"]]
    return [f"{group} {stream}: {message}" for _, group, stream, message in sorted(events)[-limit:]]
