"""The library as one zip, for ``spark-submit --py-files`` and Glue's ``--extra-py-files``.

Executors import ``reviewcat`` from this zip (its pandas UDFs are pickled by reference), so it
must hold every module a job imports, at the path it has when installed, with the data files.
It holds only those: the modules the job scripts in ``glue_jobs/`` and the notebooks (in a Glue
interactive session) start from, and everything they import, wherever the import sits (a
function's own import runs on an executor too). The CLI, the pipeline, the demo and the deploy
code stay out, as do the deploy files a wheel carries.
"""
from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path
from typing import Iterator

PACKAGE = Path(__file__).resolve().parents[1]

# What the job scripts import (``glue_jobs/*.py``; a test checks the list against them).
JOB_MODULES = ("reviewcat.runtime.jobs", "reviewcat.ingest.importer", "reviewcat.prep.balance",
               "reviewcat.prep.prepare", "reviewcat.prep.bias", "reviewcat.scoring.predict_table")
# What a Glue interactive session imports from the same zip: the functions ``reviewcat`` exports
# and what the notebooks use besides (a test checks both).
NOTEBOOK_MODULES = ("reviewcat.runtime.context", "reviewcat.runtime.session", "reviewcat.tables.sources",
                    "reviewcat.prep.splits", "reviewcat.prep.bias_metrics", "reviewcat.scoring.predictions",
                    "reviewcat.scoring.drift_job", "reviewcat.scoring.predict", "reviewcat.train.commands",
                    "reviewcat.synthetic.sample_data")


def _file_of(module: str) -> Path | None:
    parts = module.split(".")[1:]
    folder = PACKAGE.joinpath(*parts)
    if (folder / "__init__.py").is_file():
        return folder / "__init__.py"
    file = PACKAGE.joinpath(*parts[:-1], f"{parts[-1]}.py") if parts else PACKAGE / "__init__.py"
    return file if file.is_file() else None


def _run_time_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:``, which never run."""
    for node in ast.iter_child_nodes(tree):
        test = getattr(node, "test", None) if isinstance(node, ast.If) else None
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            continue
        yield node
        yield from _run_time_nodes(node)


def imported_modules(path: Path, module: str) -> set[str]:
    """The reviewcat modules ``path`` (module ``module``) imports anywhere in the code it runs."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return modules_imported(path.read_text(encoding="utf-8"), package)


def modules_imported(source: str, package: str = "") -> set[str]:
    """The reviewcat modules and packages that ``source``, code in ``package``, imports where it runs."""
    found = set()
    for node in _run_time_nodes(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(c for c in candidates if c.split(".")[0] == "reviewcat" and _file_of(c))
    return found


def job_files(roots: tuple[str, ...] = JOB_MODULES + NOTEBOOK_MODULES) -> list[Path]:
    """The files of ``roots``, of every reviewcat module they import in turn, and of their packages."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # a package's __init__ runs first
        todo.extend(imported_modules(_file_of(module), module))
    return sorted({_file_of(m) for m in seen})


def build_zip(target: str | Path) -> Path:
    """Write ``reviewcat/...`` into ``target`` with fixed timestamps, so equal sources give equal bytes."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    data = [p for p in sorted((PACKAGE / "data").iterdir()) if p.is_file()]
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(job_files() + data):
            info = zipfile.ZipInfo(str(Path("reviewcat") / path.relative_to(PACKAGE)), (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    partial.replace(target)
    return target


if __name__ == "__main__":
    print(f"wrote {build_zip(sys.argv[1] if len(sys.argv) > 1 else 'dist/reviewcat.zip')}")
