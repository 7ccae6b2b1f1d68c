"""``reviewcat pipeline``: import, crawl, balance, prepare and train in one Spark session.

Run as separate commands, every step pays a cold JVM, a Spark session and its first Python
workers (4-9 s each here); in one session the later steps start warm. This is the local
counterpart of the Glue workflow, with the separate commands' flags, and it resumes: each step
whose finished output is there for the same inputs and settings is skipped, so a rerun after a
failure (or with only training settings changed) starts where it has to.

A step's key is a hash of its settings and of what it reads: the listing of the input files
(path, size, modification time) for the first step, else the previous step's key and its result
file (``_import.json``, ``_balance.json``, ``manifest.json``). ``DIR/_pipeline.json`` keeps the
key and the result file's hash of every finished step; a step is skipped when both still match.
A step whose inputs or settings changed makes every step after it run again; one that only ran
again because its result was damaged or gone, and wrote the same bytes (outputs are
byte-identical for the same inputs and seed), leaves the steps after it up to date.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from reviewcat.ingest import importer
from reviewcat.prep import balance, prepare
from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import Option
from reviewcat.runtime.publishing import check_apart, claim
from reviewcat.runtime.storage import json_text
from reviewcat.schema import BALANCE_FILE, IMPORT_FILE, MANIFEST, METRICS_FILE, PIPELINE_FILE as STATE_FILE
from reviewcat.tables import catalog

log = logging.getLogger(__name__)

DEFAULT_TABLE = "reviews"
STEP_FOLDERS = {"import": "imported", "balance": "balanced", "prepare": "prepared", "train": "model"}
# The file that says a step finished, inside its folder; its hash stands for the step's result.
RESULT_FILES = {"import": IMPORT_FILE, "balance": BALANCE_FILE, "prepare": MANIFEST, "train": METRICS_FILE}
# Flags whose meaning is the pipeline's own: where things are, and whether to start over.
_OWN = {"input_path", "output_path", "overwrite", "rerun", "warehouse", "database", "table", "output_table", "data"}


# The local search's flags: the pipeline trains with fastText here, as the Glue workflow's
# counterpart (SageMaker: `reviewcat train --backend sagemaker --data DIR/prepared`).
_LOCAL_TRAINING = ("strategy", "no-refine", "quantize", "loss", "threads")


def _train_options() -> list[Option]:
    from reviewcat.train.commands import SEARCH_OPTIONS, TRAIN
    return [o for o in TRAIN if o.name in _LOCAL_TRAINING] + SEARCH_OPTIONS


def options() -> list[Option]:
    """The pipeline's flags: its own, then every step's, each name once (a shared name means the same)."""
    own = [
        Option("input-path", "a dump (with --format) or a parquet table with product_category=<name> folders",
               required=True),
        Option("output-path", "folder for the steps' outputs: imported/, balanced/, prepared/, model/", required=True),
        Option("rerun", "run every step again, even those whose outputs are up to date, and replace step folders "
               "that another run wrote (was --overwrite)", switch=True, aliases=("overwrite",)),
        Option("no-train", "stop after prepare", switch=True),
        Option("database", "register the imported (or input) table in this catalog database and balance through it"),
        Option("table", f"the catalog table's name (with --database; default {DEFAULT_TABLE})"),
        *[o for o in importer.OPTIONS if o.name == "warehouse"],
    ]
    # --text-column is the input table's text: read by import with --format table (which names it
    # review_body in the imported table), else by prepare. --label-column is import's (the
    # table's label column); --label names what to balance and learn, as in balance and prepare.
    own.append(Option("text-column", "the column with the text: of the table to import (--format table), else of "
                      "the input table (default review_body)"))
    taken = {o.dest for o in own}
    listed = [*importer.OPTIONS, *balance.OPTIONS, *prepare.OPTIONS]
    for option in listed:
        if option.dest not in _OWN and option.dest not in taken and option.name != "label":
            own.append(replace(option, required=False))  # import's --format: the pipeline may read a table
            taken.add(option.dest)
    own.append(next(o for o in balance.OPTIONS if o.name == "label"))
    own += [o for o in _train_options() if o.dest not in taken]
    return own


OPTIONS = options()


@dataclass
class PipelineResult:
    output_path: str
    results: dict[str, dict] = field(default_factory=dict)  # step -> its result file (parsed)
    skipped: list[str] = field(default_factory=list)
    table: str | None = None


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _settings(step_options: list[Option], args: Any) -> dict:
    return {o.dest: getattr(args, o.dest, None) for o in step_options if o.dest not in _OWN}


def _listing(rt: Runtime, path: str) -> list:
    files = rt.storage.files(path)
    if not files:
        raise ReviewcatError(f"input path {path} has no files: check --input-path")
    return [(f.path, f.size, f.modified) for f in files]


class _State:
    """``_pipeline.json``: each finished step's key and result hash."""

    def __init__(self, rt: Runtime, root: str, fresh: bool):
        self.rt, self.root, self.path = rt, root, f"{root}/{STATE_FILE}"
        self.steps: dict[str, dict] = {}
        if not fresh and rt.storage.exists(self.path):
            try:
                self.steps = json.loads(rt.storage.read_text(self.path)).get("steps", {})
            except ValueError:
                log.warning("%s is damaged: running every step", self.path)

    def result(self, step: str) -> tuple[dict, str] | None:
        path = f"{self.root}/{STEP_FOLDERS[step]}/{RESULT_FILES[step]}"
        if not self.rt.storage.exists(path):
            return None
        text = self.rt.storage.read_text(path)
        return json.loads(text), hashlib.sha256(text.encode()).hexdigest()[:16]

    def done(self, step: str, key: str) -> tuple[dict, str] | None:
        found = self.result(step)
        recorded = self.steps.get(step, {})
        return found if found and recorded.get("key") == key and recorded.get("result") == found[1] else None

    def record(self, step: str, key: str, result_hash: str) -> None:
        self.steps[step] = {"key": key, "result": result_hash}
        self.rt.storage.write_text(self.path, json_text({"steps": self.steps}))


def _check_output(rt: Runtime, root: str, rerun: bool) -> None:
    """Refuses to replace step folders that another hand wrote; other files in the folder stay untouched."""
    if rerun or rt.storage.exists(f"{root}/{STATE_FILE}") or not rt.storage.exists(root):
        return
    found = [f for f in STEP_FOLDERS.values() if rt.storage.exists(f"{root}/{f}")]
    if found:
        raise ReviewcatError(f"output path {root} holds {', '.join(found)} but is not a pipeline's output: choose "
                             "another --output-path or pass --rerun to replace them")


def run(rt: Runtime, args: Any) -> PipelineResult:
    """Every step in order; returns each step's result file and which steps were up to date."""
    if not args.input_path:
        raise ReviewcatError("--input-path is required: a dump (with --format) or a partitioned parquet table")
    if not args.output_path:
        raise ReviewcatError("--output-path is required: the folder for imported/, balanced/, prepared/ and model/")
    if args.table and not args.database:
        raise ReviewcatError("--table names the catalog table of --database: give --database too")
    train = not args.no_train
    if train and "://" in args.output_path and not args.output_path.startswith("file:"):
        raise ReviewcatError(f"training writes a local folder, not {args.output_path}: pass --no-train or a local "
                             "--output-path")
    root = rt.storage.qualify(args.output_path.rstrip("/"))
    table_path = rt.storage.qualify(args.input_path.rstrip("/"))
    written = [step for step in STEP_FOLDERS if (step != "import" or args.format) and (step != "train" or train)]
    for step in written:  # the root may hold the input beside them: the demo's dump, an earlier run's import
        check_apart(f"{root}/{STEP_FOLDERS[step]}", {"--input-path": table_path})
    _check_output(rt, root, args.rerun)
    rt.storage.mkdirs(root)
    state = _State(rt, root, args.rerun)
    outcome = PipelineResult(root)
    upstream = _digest(_listing(rt, args.input_path))

    def step(name: str, settings: dict, body: Callable[[str], None]) -> None:
        nonlocal upstream
        key = _digest({"step": name, "settings": settings, "upstream": upstream})
        found = state.done(name, key)
        folder = f"{root}/{STEP_FOLDERS[name]}"
        if found:
            log.info("%s: up to date in %s, skipped", name, folder)
            outcome.skipped.append(name)
        else:
            log.info("%s -> %s", name, folder)
            body(folder)
            found = state.result(name)
            if found is None:
                raise RuntimeError(f"{name} finished without writing {RESULT_FILES[name]}")
            state.record(name, key, found[1])
        outcome.results[name] = found[0]
        upstream = _digest({"key": key, "result": found[1]})

    if args.format:
        if args.format == "table" and (args.no_label or not args.label_column):
            raise ReviewcatError("the pipeline balances and trains on labels: give --label-column (a table without "
                                 "labels is scored with `reviewcat predict-table`)")
        import_settings = _settings(importer.OPTIONS, args)

        def run_import(folder: str) -> None:
            # An import adds to an existing table: an outdated one goes first, or categories the
            # input no longer holds would stay. Only reviewcat's own, as --overwrite would replace.
            claim(rt.storage, folder, overwrite=True)
            rt.storage.delete(folder)
            importer.import_table(rt, **import_settings, input_path=args.input_path, output_path=folder)
        step("import", import_settings, run_import)
        table_path = f"{root}/{STEP_FOLDERS['import']}"
    source = {"input_path": table_path}
    if args.database:
        source = {"database": args.database, "table": args.table or DEFAULT_TABLE}
        log.info("crawl -> %s.%s", source["database"], source["table"])
        outcome.table = catalog.crawl(rt, table_path, source["database"], source["table"]).table
    balance_settings = _settings(balance.OPTIONS, args)
    step("balance", balance_settings, lambda folder: balance.balance(
        rt, **balance_settings, **source, output_path=folder, overwrite=True))
    text = "review_body" if args.format or not args.text_column else args.text_column
    prepare_settings = {**_settings(prepare.OPTIONS, args), "text_column": text}
    step("prepare", prepare_settings, lambda folder: prepare.prepare(
        rt, **prepare_settings, input_path=f"{root}/{STEP_FOLDERS['balance']}", output_path=folder, overwrite=True))
    if train:
        from reviewcat.train.commands import train as train_model
        train_settings = {**_settings(_train_options(), args), "seed": args.seed, "backend": "local"}
        step("train", train_settings, lambda folder: train_model(
            **train_settings, data=_local(f"{root}/{STEP_FOLDERS['prepare']}"), output_path=_local(folder),
            overwrite=True))
    return outcome


def _local(path: str) -> str:
    return path.removeprefix("file:") if path.startswith("file:/") else path
