"""The ``reviewcat`` command: every job and tool behind one entry point."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from reviewcat import __version__
from reviewcat.runtime import failures, interrupts, publishing
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import Command, Option, name_list, parse_args, positive_int

# Jobs take the same flags here as their glue_jobs/ scripts; they are parsed by runtime.run_job.
JOBS: dict[str, tuple[str, str]] = {
    "import": ("reviewcat.ingest.importer", "turn review dumps (Amazon 2023, 2018, TSV) or a table (CSV, JSON Lines, "
               "parquet; labelled or not) into the review table"),
    "balance": ("reviewcat.prep.balance", "equal (or capped) reviews per category, read through partition push-down"),
    "prepare": ("reviewcat.prep.prepare", "clean, tokenize and split balanced reviews into fastText files"),
    "crawl": ("reviewcat.ingest.crawl_job", "register a partitioned parquet folder as a catalog table"),
    "bias": ("reviewcat.prep.bias", "SageMaker Clarify's pre-training bias metrics of a label across a facet"),
    "predict-table": ("reviewcat.scoring.predict_table", "score every row of any table (CSV, JSON Lines, parquet, a "
                      "catalog table) with a trained model: top-k categories and probabilities as parquet, and drift"),
    "drift": ("reviewcat.scoring.drift_job", "whether new data has drifted from what a model was trained on, and "
              "whether to retrain"),
    "pipeline": ("reviewcat.pipeline", "import, crawl, balance, prepare and train in one Spark session; "
                 "reruns skip the steps that are up to date"),
}

SAMPLE_DATA = [
    Option("rows", "how many reviews (or tickets) to generate", positive_int, 200_000),
    Option("output-path", "local folder to write into: product_category=<name>/*.parquet, one dump file per "
           "category (--format amazon-*), or tickets.csv (--format tickets)", required=True),
    Option("seed", "random seed", int, 42),
    Option("categories", "comma-separated subset of the categories (default: all): the retired table's 43, or the "
           "2023 dataset's 33 and Unknown with --format amazon-2023", name_list),
    Option("category-count", "instead of --categories: the N largest categories, numbered copies past the last",
           positive_int),
    Option("overwrite", "replace --output-path if it exists", switch=True),
    Option("format", "parquet (the retired public table's layout), a dump for `reviewcat import`, or tickets "
           "(a helpdesk's CSV export: tickets.csv)", default="parquet",
           choices=("parquet", "amazon-2023", "amazon-2018", "amazon-tsv", "tickets")),
    Option("no-label", "--format tickets: leave the Queue column out (new tickets, to score)", switch=True),
    Option("workers", "processes that generate a table of more than 250,000 reviews (default: one per core); "
           "each holds at most 250,000 reviews, about 0.6 GB, at a time", positive_int),
]


def _sample_data(args: argparse.Namespace) -> None:
    from reviewcat.synthetic.sample_data import numbered_categories, release_of, write_sample_data
    if args.format == "tickets":
        from reviewcat.synthetic.sample_tickets import write_sample_tickets
        if args.categories or args.category_count:
            raise ReviewcatError("--format tickets has its own queues: leave out --categories and --category-count")
        if args.workers:
            raise ReviewcatError("--workers goes with generated reviews: tickets are written by one process")
        write_sample_tickets(args.output_path, args.rows, args.seed, args.overwrite, labelled=not args.no_label)
        return
    if args.no_label:
        raise ReviewcatError("--no-label goes with --format tickets: reviews are labelled by their category folders")
    if args.categories and args.category_count:
        raise ReviewcatError("give --categories or --category-count, not both")
    categories = numbered_categories(args.category_count, release_of(args.format)) if args.category_count \
        else args.categories
    write_sample_data(args.output_path, args.rows, args.seed, args.overwrite, categories, args.format, args.workers)


def _demo(args: argparse.Namespace) -> None:
    from reviewcat.demo import run_demo
    print(run_demo(args.workdir, args.rows, args.seed))


def _train(args: argparse.Namespace) -> None:
    from reviewcat.runtime.options import stage_arguments
    from reviewcat.train.commands import TRAIN, train
    train(**stage_arguments(TRAIN, args))


def _evaluate(args: argparse.Namespace) -> None:
    from reviewcat.runtime.options import stage_arguments
    from reviewcat.train.commands import EVALUATE, evaluate
    print(f"report: {evaluate(**stage_arguments(EVALUATE, args))}")


def _register(args: argparse.Namespace) -> None:
    from reviewcat.runtime.options import stage_arguments
    from reviewcat.train.registry import REGISTER, register
    print(f"registered: {register(**stage_arguments(REGISTER, args))} (pending manual approval)")


def _predict(args: argparse.Namespace) -> None:
    from reviewcat.scoring.predict import predict_command
    predict_command(args)


def _s3_jars(args: argparse.Namespace) -> None:
    from pathlib import Path

    from reviewcat.runtime.s3a import install, jar_folder
    folder = install(Path(args.folder) if args.folder else jar_folder())
    print(f"S3A's jars are in {folder}" + ("" if folder == jar_folder() else
                                           f"; reviewcat uses them with REVIEWCAT_S3A_JARS={folder}"))


def _lazy_options(module: str, name: str) -> Callable[[], list[Option]]:
    """The options of a command that trains or predicts, imported only when it runs: its module
    brings NLTK, and with it SciPy, imports that every other command would pay at start."""
    def load() -> list[Option]:
        import importlib
        return getattr(importlib.import_module(module), name)
    return load


TOOLS: dict[str, Command] = {
    "sample-data": Command("generate realistic Amazon reviews: the retired parquet table or a dump to import",
                           SAMPLE_DATA, _sample_data),
    "demo": Command("the whole pipeline on generated data, locally",
                    [Option("workdir", "folder for the demo's data, catalog and outputs", default="demo-output"),
                     Option("rows", "reviews to generate", positive_int, 200_000),
                     Option("seed", "random seed", int, 42)], _demo),
    "train": Command("search hyperparameters, keep the best model, evaluate it",
                     _lazy_options("reviewcat.train.commands", "TRAIN"), _train),
    "evaluate": Command("score a model on the test split: metrics, confusion matrix, report",
                        _lazy_options("reviewcat.train.commands", "EVALUATE"), _evaluate),
    "register": Command("register a trained model as a SageMaker model package, pending approval, with its metrics "
                        "and bias report", _lazy_options("reviewcat.train.registry", "REGISTER"), _register),
    "predict": Command("top-k categories for texts given as arguments or lines on stdin",
                       _lazy_options("reviewcat.scoring.predict", "PREDICT"), _predict,
                       lambda parser: parser.add_argument("texts", nargs="*",
                                                          help="review texts (default: one per line on stdin)")),
    "s3-jars": Command("download S3A's jars (hadoop-aws, the AWS SDK bundle) so s3:// paths work where reviewcat "
                       "starts Spark 3.5", [Option("folder", "where to keep them (default: $REVIEWCAT_S3A_JARS, "
                                                   "else share/reviewcat/s3a-jars of this Python's environment)")],
                       _s3_jars),
}


# Commands made of subcommands: (what they are for, the module whose ``name`` maps each to a Command).
GROUPS: dict[str, tuple[str, str, str]] = {
    "aws": ("the AWS stack: deploy, run the Glue workflow, status and cost, logs, destroy",
            "reviewcat.aws.commands", "AWS"),
    "endpoint": ("SageMaker endpoints that serve a model: deploy, delete, list", "reviewcat.aws.commands",
                 "ENDPOINT"),
}


def main(argv: list[str] | None = None) -> int:
    """The command line: an interrupt anywhere, the imports that start a command included, is one line."""
    with interrupts.raising():
        try:
            return _main(list(sys.argv[1:] if argv is None else argv))
        except KeyboardInterrupt as exc:
            print(f"reviewcat: error: {failures.interruption(exc)}", file=sys.stderr)
            return 130


def _menu(prog: str, entries: dict[str, str], argv: list[str]) -> int | None:
    """None when ``argv`` starts with one of ``entries``; else their list (on --help, or as the
    error's context) and the exit code."""
    if argv and argv[0] in entries:
        return None
    if argv and argv[0] == "--version":
        print(f"reviewcat {__version__}")
        return 0
    asked = argv[0] in ("-h", "--help") if argv else prog == "reviewcat"
    width = max(map(len, entries)) + 1
    lines = [f"  {name:<{width}} {text}" for name, text in entries.items()]
    print(f"usage: {prog} COMMAND [options]   ({prog} COMMAND --help for its options)\n\ncommands:\n"
          + "\n".join(lines), file=sys.stdout if asked else sys.stderr)
    if asked:
        return 0
    print(f"{prog}: error: " + (f"unknown command {argv[0]!r}" if argv else f"give one of: {', '.join(entries)}"),
          file=sys.stderr)
    return 2


def _main(argv: list[str]) -> int:
    # Imported here, not at the top: Spark's Python side takes a second to import, and an
    # interrupt during it is still the command's to report.
    import importlib
    from reviewcat.runtime.jobs import run_job
    commands = {**{k: v[1] for k, v in JOBS.items()}, **{k: v.description for k, v in TOOLS.items()},
                **{k: v[0] for k, v in GROUPS.items()}}
    code = _menu("reviewcat", commands, argv)
    if code is not None:
        return code
    command, rest = argv[0], argv[1:]
    prog = f"reviewcat {command}"
    if command in JOBS:
        module = importlib.import_module(JOBS[command][0])
        return run_job([prog] + rest, module.OPTIONS, prog, JOBS[command][1], module.run)
    if command in GROUPS:
        _, module, name = GROUPS[command]
        subcommands = getattr(importlib.import_module(module), name)
        code = _menu(prog, {k: v.description for k, v in subcommands.items()}, rest)
        if code is not None:
            return code
        return run_tool(f"{prog} {rest[0]}", subcommands[rest[0]], rest[1:])
    return run_tool(prog, TOOLS[command], rest)


def run_tool(prog: str, command: Command, argv: list[str]) -> int:
    """A command that is not a Spark job (it may start one): its flags parsed, its failures one line."""
    from reviewcat.runtime.jobs import configure_logging
    from reviewcat.runtime.jvm import end_processes, jvm_running
    from reviewcat.runtime.session import default_warehouse
    args = parse_args(command.flags(), argv, prog, command.description, command.positionals)
    configure_logging()
    publishing.start_run(prog)
    own_jvm = not jvm_running()  # the demo starts one; a notebook's or a test's stays
    try:
        command.body(args)
    except BaseException as exc:
        with interrupts.deferred(raise_after=False):
            code = failures.report(prog, exc, failures.fallback_log(prog, default_warehouse()))
            if own_jvm:
                end_processes()
        return code
    return 0

if __name__ == "__main__":
    sys.exit(main())
