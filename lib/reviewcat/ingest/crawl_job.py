"""``reviewcat crawl``: the local stand-in for a Glue crawler (on AWS the crawler itself runs)."""
from __future__ import annotations

from argparse import Namespace

from reviewcat.runtime.context import Runtime
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.options import SOURCE, Option
from reviewcat.tables.catalog import CrawlResult, crawl

OPTIONS = [
    Option("input-path", "the parquet folder to register: product_category=<name>/*.parquet (local, hdfs:// or "
           "s3://)", required=True),
    Option("database", "catalog database to register it in (created when missing)"),
    Option("table", "catalog table to create, or to refresh with the folder's partitions now"),
    *[o for o in SOURCE if o.name == "warehouse"],
]


def run(rt: Runtime, args: Namespace) -> CrawlResult:
    missing = [f"--{o.name}" for o in OPTIONS if o.name != "warehouse" and not getattr(args, o.dest)]
    if missing:
        raise ReviewcatError(f"crawl needs {', '.join(missing)}")
    return crawl(rt, args.input_path, args.database, args.table)
