"""``reviewcat crawl``: the local stand-in for a Glue crawler (on AWS the crawler itself runs)."""
from __future__ import annotations

from typing import Any

from .catalog import CrawlResult, crawl
from .errors import ReviewcatError
from .options import SOURCE
from .runtime import Runtime

OPTIONS = SOURCE


def run(rt: Runtime, args: Any) -> CrawlResult:
    missing = [f"--{o.name}" for o in OPTIONS if o.name != "warehouse" and not getattr(args, o.dest)]
    if missing:
        raise ReviewcatError(f"crawl needs {', '.join(missing)}")
    return crawl(rt, args.input_path, args.database, args.table)
