"""The library as one zip, for ``spark-submit --py-files`` and Glue's ``--extra-py-files``.

Executors import ``reviewcat`` from this zip (its pandas UDFs are pickled by reference), so it must
hold the package exactly as installed, data files included; caches, and the deploy files an
installed wheel carries (``shipped/``: no job imports them), are left out.
"""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def build_zip(target: str | Path) -> Path:
    """Write ``reviewcat/...`` into ``target`` with fixed timestamps, so equal sources give equal bytes."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(PACKAGE.rglob("*")):
            inside = path.relative_to(PACKAGE).parts
            if path.is_file() and "__pycache__" not in inside and inside[0] != "shipped" and path.suffix != ".pyc":
                info = zipfile.ZipInfo(str(Path("reviewcat") / path.relative_to(PACKAGE)), (2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    partial.replace(target)
    return target


if __name__ == "__main__":
    print(f"wrote {build_zip(sys.argv[1] if len(sys.argv) > 1 else 'dist/reviewcat.zip')}")
