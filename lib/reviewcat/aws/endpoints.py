"""``reviewcat endpoint deploy | delete | list``: the real-time endpoints that serve a model.

An endpoint bills by the hour for as long as it exists, so making one is paired with deleting it
and with a list that shows what each one costs. ``deploy`` serves the best model of a tuning job
(or a training job's) on BlazingText's own image; ``delete`` removes the endpoint, and the endpoint
configuration and model that ``deploy`` made under the same name.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from reviewcat.aws import costs
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.train import sagemaker_backend as sm

log = logging.getLogger(__name__)

NONE = "no endpoints in this region"


def deploy(client: Any, name: str | None, tuning_job: str | None, training_job: str | None,
           instance_type: str = sm.ENDPOINT_INSTANCE) -> str:
    """An endpoint serving the best model of ``tuning_job``, or ``training_job``'s; named ``name``
    (default: the job's name). Returns the name once the endpoint is in service."""
    if bool(tuning_job) == bool(training_job):
        raise ReviewcatError("give either --tuning-job or --training-job")
    name = name or tuning_job or training_job
    sm.check_endpoint_free(client, name, "--name")
    if tuning_job:
        tuning = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job)
        status = tuning["HyperParameterTuningJobStatus"]
        if status not in ("Completed", "Stopped"):
            raise ReviewcatError(f"tuning job {tuning_job} is {status}: its best model is known once it has "
                                 f"ended (reviewcat train --attach {tuning_job} waits for it)")
        model = sm.best_job(client, tuning)
    else:
        training = client.describe_training_job(TrainingJobName=training_job)
        if training["TrainingJobStatus"] != "Completed":
            raise ReviewcatError(f"training job {training_job} is {training['TrainingJobStatus']}: only a completed "
                                 "job has a model to serve")
        model = sm.trained_model(training)
    return sm.deploy(client, model, name, instance_type)


def delete(client: Any, name: str) -> list[str]:
    """The endpoint deleted, with the configuration and models of the same name (what ``deploy``
    made); a configuration or model under another name is someone else's and stays."""
    endpoint = sm.existing(lambda: client.describe_endpoint(EndpointName=name))
    if endpoint is None:
        raise ReviewcatError(f"endpoint {name} does not exist: `reviewcat endpoint list` shows those that do "
                             "(check --region)")
    config = endpoint["EndpointConfigName"]
    # A configuration may be deleted while its endpoint serves (and bills): the endpoint goes anyway.
    described = sm.existing(lambda: client.describe_endpoint_config(EndpointConfigName=config))
    models = [v["ModelName"] for v in (described or {}).get("ProductionVariants", [])]
    client.delete_endpoint(EndpointName=name)
    lines = [f"deleted endpoint {name}"]
    if described is None:
        lines.append(f"endpoint configuration {config} was already gone")
    elif config == name:
        client.delete_endpoint_config(EndpointConfigName=config)
        lines.append(f"deleted endpoint configuration {config}")
    else:
        lines.append(f"kept endpoint configuration {config} (not made by reviewcat endpoint deploy)")
    for model in models:
        if model == name:
            client.delete_model(ModelName=model)
            lines.append(f"deleted model {model}")
        else:
            lines.append(f"kept model {model} (not made by reviewcat endpoint deploy)")
    return lines


def listing(client: Any, prices: Mapping[str, float] = costs.PRICES) -> list[str]:
    """One line per endpoint of the region: status, instances and what they cost per hour."""
    lines = []
    for page in client.get_paginator("list_endpoints").paginate(SortBy="CreationTime", SortOrder="Descending"):
        for summary in page["Endpoints"]:
            name = summary["EndpointName"]
            shown = f"{name}: {summary['EndpointStatus']}, "
            # Either may be gone by now (an endpoint being deleted, a configuration deleted under it).
            endpoint = sm.existing(lambda: client.describe_endpoint(EndpointName=name))
            config = endpoint and sm.existing(
                lambda: client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"]))
            if not config:
                lines.append(f"{shown}configuration unknown, created {summary['CreationTime']:%Y-%m-%d %H:%M}")
                continue
            running = {v["VariantName"]: v.get("CurrentInstanceCount") for v in endpoint.get("ProductionVariants", [])}
            counts = [(running.get(v["VariantName"]) if running.get(v["VariantName"]) is not None
                       else v.get("InitialInstanceCount", 1), v.get("InstanceType", "serverless"))
                      for v in config.get("ProductionVariants", [])]
            hourly = [prices.get(kind) for _, kind in counts]
            price = (f"${sum(p * n for p, (n, _) in zip(hourly, counts)):.3f}/hour"
                     if hourly and None not in hourly else "price unknown (--price TYPE=USD)")
            lines.append(f"{shown}{', '.join(f'{n} x {kind}' for n, kind in counts)}, {price}, created "
                         f"{summary['CreationTime']:%Y-%m-%d %H:%M}")
    return lines or [NONE]
