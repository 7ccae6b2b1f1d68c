"""``python -m benchmarks`` (what ``make bench`` runs): every stage measured against its plain alternative."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reviewcat.cli import run_tool
from reviewcat.runtime.options import Command, Option, name_list, positive_int


def row_counts(text: str) -> tuple[int, ...]:
    """``1000000,10000000``: one or more positive row counts."""
    return tuple(positive_int(part) for part in text.split(",") if part.strip())


OPTIONS = [
    Option("workdir", "folder for results.json, results.md and the generated data (data/)", default="bench"),
    Option("rows", "generated reviews per table", positive_int, 2_000_000),
    Option("scale-rows", "the larger size of the scale section", positive_int, 10_000_000),
    Option("repeats", "runs of each measured step; the table shows medians", positive_int, 3),
    Option("seed", "random seed", int, 42),
    Option("sections", "comma-separated subset of import,balance,pushdown,prepare,train,sizes,splits,predict,"
           "scale,e2e,s3 (default: all of them), or fullscale (only when asked for: about 45 minutes and 20 GB "
           "of disk); results of the other sections already in --workdir are kept", name_list),
    Option("driver-memory", "Spark driver memory of the scale and e2e sections' jobs", default="1g"),
    Option("fullscale-rows", "comma-separated table sizes of the fullscale section (default: 1M, 10M, 40M "
           "and 160M reviews)", row_counts),
]


def bench(args: argparse.Namespace) -> None:
    from benchmarks.fullscale import FULLSCALE_ROWS
    from benchmarks.suite import DEFAULT_SECTIONS, BenchConfig, run_bench
    config = BenchConfig(Path(args.workdir).resolve(), args.rows, args.scale_rows, args.repeats, args.seed,
                         tuple(args.sections or DEFAULT_SECTIONS), args.driver_memory,
                         args.fullscale_rows or FULLSCALE_ROWS)
    print(run_bench(config).read_text())


if __name__ == "__main__":
    sys.exit(run_tool("benchmarks", Command("measure every stage against its plain alternative; writes "
                                            "results.json and results.md", OPTIONS, bench), sys.argv[1:]))
