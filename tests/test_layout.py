"""The package's shape: every module in its layer's folder, no import cycle, a Glue zip of what jobs import."""
import json
import subprocess
import sys
import zipfile

import reviewcat
from conftest import ROOT
from reviewcat.aws.packaging import (JOB_MODULES, NOTEBOOK_MODULES, PACKAGE, build_zip, imported_modules,
                                     modules_imported)

TOP = {"__init__", "cli", "pipeline", "demo", "schema"}
# Bottom up: a layer imports only the ones before it (and schema, and the package's __version__).
LAYERS = ["runtime", "tables", "ingest", "prep", "train", "scoring", "synthetic", "aws"]
# Training writes the reference that drift compares new data with: the one import upwards.
UPWARDS = {("reviewcat.train.evaluate", "reviewcat.scoring.drift")}


def _modules() -> dict[str, object]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "shipped" in path.parts:
            continue
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("reviewcat",) + (parts[:-1] if parts[-1] == "__init__" else parts))
        found[name] = path
    return found


def test_every_module_sits_in_its_layers_folder():
    for name in _modules():
        parts = name.split(".")[1:]
        assert (len(parts) == 1 and parts[0] in TOP) or (parts and parts[0] in LAYERS and len(parts) <= 2) \
            or not parts, name


def test_each_layer_imports_only_the_layers_below_it():
    modules = _modules()
    for name, path in modules.items():
        layer = name.split(".")[1] if name.count(".") else None
        if layer not in LAYERS or "." not in name[len("reviewcat.") + len(layer):]:
            continue
        for target in imported_modules(path, name):
            if modules[target].name == "__init__.py":
                continue  # a package: importing a module of it imports it, and it holds nothing
            below = target.split(".")[1] if target.count(".") else "schema"
            allowed = below in ("schema", "__init__") or target == "reviewcat" or \
                (below in LAYERS and LAYERS.index(below) <= LAYERS.index(layer))
            assert allowed or (name, target) in UPWARDS, f"{name} imports {target}"


def test_no_module_imports_itself_through_others():
    modules = _modules()
    graph = {name: imported_modules(path, name) - {name} for name, path in modules.items()}
    done, active = set(), []

    def visit(name):
        assert name not in active, "import cycle: " + " -> ".join(active[active.index(name):] + [name])
        if name in done:
            return
        active.append(name)
        for target in graph[name]:
            visit(target)
        active.pop()
        done.add(name)
    for name in graph:
        visit(name)


def _reviewcat_imports(code: str) -> set[str]:
    """The reviewcat modules a piece of code imports, without the packages they sit in."""
    modules = _modules()
    return {name for name in modules_imported(code) if modules[name].name != "__init__.py"}


def test_the_glue_zip_holds_what_the_jobs_and_notebooks_import_and_nothing_of_the_cli(tmp_path):
    started = set()
    for script in (ROOT / "glue_jobs").glob("*.py"):
        started |= _reviewcat_imports(script.read_text())
    assert started == set(JOB_MODULES)
    # A Glue interactive session imports the notebooks' modules and reviewcat's functions from the zip.
    notebook_code = "\n".join("".join(cell["source"]) for path in (ROOT / "notebooks").glob("*.ipynb")
                              for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code")
    used = _reviewcat_imports("\n".join(line for line in notebook_code.splitlines() if not line.startswith("%")))
    used |= {module for module, _ in reviewcat._API.values()}
    assert used - {"reviewcat"} <= set(NOTEBOOK_MODULES) | set(JOB_MODULES)
    archive = build_zip(tmp_path / "reviewcat.zip")
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"reviewcat/prep/prepare.py", "reviewcat/runtime/jobs.py", "reviewcat/data/log4j2.properties"} <= names
    assert not {n for n in names if n.startswith(("reviewcat/aws/", "reviewcat/shipped/"))
                or n in ("reviewcat/cli.py", "reviewcat/demo.py", "reviewcat/pipeline.py")}
    # The zip alone (no installed reviewcat on the path) imports every job and every function.
    code = "import sys; sys.path.insert(0, sys.argv[1]); " + \
        "; ".join(f"import {m}" for m in JOB_MODULES + NOTEBOOK_MODULES) + \
        "; import reviewcat; assert reviewcat.__file__.startswith(sys.argv[1]), reviewcat.__file__; " + \
        "[getattr(reviewcat, name) for name in reviewcat.__all__]"
    proc = subprocess.run([sys.executable, "-S", "-c", code, str(archive)], capture_output=True, text=True,
                          env={"PYTHONPATH": ":".join(p for p in sys.path if "site-packages" in p)})
    assert proc.returncode == 0, proc.stderr
