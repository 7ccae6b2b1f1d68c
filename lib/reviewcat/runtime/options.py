"""Job arguments declared once and parsed the same way on the command line and on AWS Glue.

Glue's ``getResolvedOptions`` makes every name it is given required and knows no defaults or
switches, so a spec here is turned into argparse for ``spark-submit``/``python``/``reviewcat`` and
into a ``getResolvedOptions`` call (only names present in argv) plus our own defaults on Glue.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from reviewcat.runtime.errors import ReviewcatError

log = logging.getLogger(__name__)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {value:g}")
    return value


def name_list(text: str) -> list[str]:
    """Comma-separated names, as Glue job arguments cannot carry a list."""
    return [part.strip() for part in text.split(",") if part.strip()]


def names_of(value: str | Iterable[str] | None) -> list[str]:
    """A list flag's value as names: already a list (parsed), or the comma-separated text a notebook
    or a default gives."""
    if value is None:
        return []
    return name_list(value) if isinstance(value, str) else list(value)


def truthy(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "y"):
        return True
    if lowered in ("false", "0", "no", "n", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


@dataclass(frozen=True)
class Option:
    name: str
    help: str
    type: Callable[[str], Any] = str
    default: Any = None
    switch: bool = False
    repeat: bool = False  # may be given several times; the values arrive as a list
    short: str | None = None
    choices: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()  # earlier names that still work, for one release, with a warning
    required: bool = False  # argparse refuses a command line without it, before anything starts

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Command:
    """A command that is not a Spark job (it may start one): what it is for, its flags (or a function
    giving them, so that a heavy module is imported only when the command runs), and what it runs."""
    description: str
    options: list[Option] | Callable[[], list[Option]]
    body: Callable[[argparse.Namespace], None]
    positionals: Callable[[argparse.ArgumentParser], object] | None = None  # e.g. predict's texts

    def flags(self) -> list[Option]:
        return self.options() if callable(self.options) else self.options


def add_options(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    for opt in options:
        flags = [f"--{name}" for name in opt.names] + ([opt.short] if opt.short else [])
        if opt.switch:
            parser.add_argument(*flags, dest=opt.dest, action="store_true", help=opt.help)
        else:
            shown = f" (default: {opt.default})" if opt.default is not None else " (required)" if opt.required else ""
            parser.add_argument(*flags, dest=opt.dest, type=opt.type, default=opt.default, choices=opt.choices,
                                action="append" if opt.repeat else "store", help=opt.help + shown,
                                required=opt.required, metavar=None if opt.choices else opt.dest.upper())


def renamed(options: Iterable[Option], given: Iterable[str]) -> list[str]:
    """A warning for each earlier name among the flags ``given`` (``--name``, or ``--name=value``)."""
    flags = {word.split("=", 1)[0] for word in given}
    return [f"--{alias} is now --{opt.name}; the old name goes in the next release"
            for opt in options for alias in opt.aliases if f"--{alias}" in flags]


def parse_args(options: Iterable[Option], argv: list[str], prog: str, description: str,
               extra: Callable[[argparse.ArgumentParser], object] | None = None) -> argparse.Namespace:
    """``argv`` parsed by ``options``; ``extra`` adds what is not an option (a command's positional words)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_options(parser, options)
    if extra:
        extra(parser)
    args = parser.parse_args(argv)
    for warning in renamed(options, argv):
        print(f"{prog}: warning: {warning}", file=sys.stderr)
    return args


def glue_names(options: Iterable[Option], argv: list[str]) -> list[str]:
    """The names to hand ``getResolvedOptions``: only those present, since it requires all it gets."""
    return [name for opt in options for name in opt.names if f"--{name}" in argv]


def from_resolved(options: Iterable[Option], resolved: Mapping[str, str]) -> argparse.Namespace:
    """Typed values with defaults from what ``getResolvedOptions`` returned (keys use ``_``)."""
    values = {}
    for warning in renamed(options, [f"--{name.replace('_', '-')}" for name, value in resolved.items()
                                     if value is not None]):
        log.warning("%s", warning)
    for opt in options:
        given = next((n for n in opt.names if resolved.get(n.replace("-", "_")) is not None), None)
        raw = resolved[given.replace("-", "_")] if given else None
        if raw is None:
            if opt.required:
                raise ReviewcatError(f"--{opt.name} is required: {opt.help}")
            values[opt.dest] = False if opt.switch else opt.default
            continue
        convert = truthy if opt.switch else opt.type
        try:
            values[opt.dest] = convert(raw)
        except argparse.ArgumentTypeError as exc:
            raise ReviewcatError(f"--{given}: {exc}") from None
    return argparse.Namespace(**values)


# Options that choose the session a job runs in (``runtime.jobs``), not what the job does.
RUNTIME_ONLY = frozenset({"warehouse"})


def stage_arguments(options: Iterable[Option], args: argparse.Namespace) -> dict[str, Any]:
    """A parsed command line as its stage function's keyword arguments (each option's ``dest``)."""
    return {opt.dest: getattr(args, opt.dest) for opt in options if opt.dest not in RUNTIME_ONLY}


def namespace(options: Iterable[Option], **values: Any) -> argparse.Namespace:
    """Arguments as a parsed command line would give them: for notebooks, tests and the demo."""
    args = {opt.dest: (False if opt.switch else opt.default) for opt in options}
    renamed = {alias.replace("-", "_"): opt.dest for opt in options for alias in opt.aliases}
    values = {renamed.get(k, k): v for k, v in values.items()}
    unknown = set(values) - set(args)
    if unknown:
        raise TypeError(f"unknown options: {', '.join(sorted(unknown))}")
    args.update(values)
    return argparse.Namespace(**args)


SOURCE = [
    Option("database", "catalog database of the input table (with --table)"),
    Option("table", "catalog table to read (with --database)"),
    Option("input-path", "parquet folder with product_category=<name> partitions (instead of --database/--table)"),
    Option("warehouse", "local catalog folder (plain Spark only; default $REVIEWCAT_WAREHOUSE or ~/.reviewcat/warehouse)"),
]
# For the jobs that read the rows of their input.
READING = [
    Option("skip-corrupt-files", "skip input parquet files that cannot be read (truncated or damaged) instead "
           "of failing; the log and the job's summary name them", switch=True),
]
OUTPUT = [
    Option("output-path", "where to write the result (local path, hdfs:// or s3://)", required=True),
    Option("overwrite", "replace --output-path if it exists", switch=True),
    Option("seed", "random seed: the same inputs and seed give byte-identical outputs", int, 42),
]
