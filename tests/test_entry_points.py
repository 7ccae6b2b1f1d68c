"""The jobs as users start them: the reviewcat command, `python glue_jobs/...` and spark-submit."""
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, cli_env

REVIEWCAT = [sys.executable, "-m", "reviewcat.cli"]
SPARK_SUBMIT = Path(sys.executable).with_name("spark-submit")


def run(command, tmp_path, timeout=300):
    return subprocess.run([str(c) for c in command], cwd=tmp_path, env=cli_env(tmp_path), capture_output=True,
                          text=True, timeout=timeout)


def assert_one_line_error(proc, prog, message):
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_crawl_then_balance_by_table_with_the_cli(raw_path, tmp_path):
    crawled = run(REVIEWCAT + ["crawl", "--input-path", raw_path, "--database", "lake", "--table", "reviews"], tmp_path)
    assert crawled.returncode == 0, crawled.stderr
    out = tmp_path / "balanced"
    balanced = run(REVIEWCAT + ["balance", "--database", "lake", "--table", "reviews", "--output-path", out,
                                "--categories", "Camera,Watches"], tmp_path)
    assert balanced.returncode == 0, balanced.stderr
    assert sorted(p.name for p in out.iterdir()) == ["_SUCCESS", "_balance.json", "_reviewcat.json",
                                                     "product_category=Camera", "product_category=Watches"]


def test_prepare_job_under_spark_submit(raw_path, tmp_path):
    out = tmp_path / "prepared"
    proc = run([SPARK_SUBMIT, "--master", "local[2]", ROOT / "glue_jobs" / "prepare_splits.py",
                "--input-path", raw_path, "--output-path", out, "--split", "0.8,0.1,0.1"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (out / "train" / "train.txt").stat().st_size > 0 and (out / "manifest.json").exists()


@pytest.mark.parametrize("args,message", [
    (["--categories", "Nope"], "unknown categories in --categories: Nope"),
    (["--min-category-size", "999999"], "no category has at least 999999 reviews"),
])
def test_job_script_bad_input_is_one_line_and_exit_2(raw_path, tmp_path, args, message):
    proc = run([sys.executable, ROOT / "glue_jobs" / "balance_reviews.py", "--input-path", raw_path,
                "--output-path", tmp_path / "out"] + args, tmp_path)
    assert_one_line_error(proc, "balance_reviews", message)
    assert not (tmp_path / "out").exists()


def test_cli_errors_before_and_without_spark(tmp_path):
    assert_one_line_error(run(REVIEWCAT + ["sample-data", "--rows", "10"], tmp_path),
                          "reviewcat sample-data", "the following arguments are required: --output-path")
    assert_one_line_error(run(REVIEWCAT + ["sample-data", "--rows", "10", "--output-path", "x"], tmp_path),
                          "reviewcat sample-data", "too few for 43 categories")
    assert_one_line_error(run(REVIEWCAT + ["sample-data", "--output-path", "x", "--categories", "Books",
                                           "--category-count", "3"], tmp_path),
                          "reviewcat sample-data", "give --categories or --category-count, not both")
    proc = run(REVIEWCAT + ["nope"], tmp_path)
    assert proc.returncode == 2 and "unknown command 'nope'" in proc.stderr
    proc = run(REVIEWCAT + ["balance", "--per-category", "ten"], tmp_path)
    assert proc.returncode == 2 and "expected a whole number, got 'ten'" in proc.stderr
    assert run(REVIEWCAT + ["--help"], tmp_path).returncode == 0


def test_cli_prepare_bad_split(raw_path, tmp_path):
    proc = run(REVIEWCAT + ["prepare", "--input-path", raw_path, "--output-path", tmp_path / "o", "--split", "1,1,1"],
               tmp_path)
    assert_one_line_error(proc, "reviewcat prepare", "sums to 3, not 1")


def test_import_job_script_names_a_truncated_gzip_in_one_line(tmp_path):
    import gzip
    dump = tmp_path / "dump"
    dump.mkdir()
    lines = "".join(f'{{"rating": 5.0, "text": "words {i} " , "timestamp": 1588687728923}}\n' for i in range(3000))
    data = gzip.compress(lines.encode())
    (dump / "Books.jsonl.gz").write_bytes(data[: len(data) // 2])
    proc = run([sys.executable, ROOT / "glue_jobs" / "import_reviews.py", "--format", "amazon-2023",
                "--input-path", dump, "--output-path", tmp_path / "out"], tmp_path)
    assert_one_line_error(proc, "import_reviews", "Books.jsonl.gz cannot be read to its end")
    # The Java traces went to the log, as does all the JVM says itself (Spark 4's notice of its
    # incubator vector module included).
    assert len(proc.stderr.splitlines()) == 1 and "\tat " not in proc.stderr
    (log,) = (tmp_path / "cli-warehouse" / "logs").glob("import_reviews-*.log")
    assert "EOFException" in log.read_text()
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("out.__*"))


def test_import_cli_refuses_an_unknown_format(tmp_path):
    proc = run(REVIEWCAT + ["import", "--format", "amazon-2024", "--input-path", "x", "--output-path", "y"], tmp_path)
    assert proc.returncode == 2 and "argument --format: invalid choice: 'amazon-2024'" in proc.stderr


# Glue 6 runs Python 3.13, which cannot be installed here: the modules it removed (PEP 594's "dead
# batteries" and lib2to3) must not be imported by anything a job runs.
REMOVED_IN_3_13 = {"aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "mailcap", "msilib", "nis",
                   "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib",
                   "lib2to3"}


def test_the_jobs_import_nothing_python_3_13_removed():
    import ast
    imported = {}
    for path in [*(ROOT / "lib" / "reviewcat").rglob("*.py"), *(ROOT / "glue_jobs").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                imported.setdefault(name.split(".")[0], []).append(path.name)
    assert "json" in imported and "pyspark" in imported  # the walk sees the imports
    assert {m: imported[m] for m in REMOVED_IN_3_13 & imported.keys()} == {}


def _commands():
    """(command line, options) of every command and subcommand."""
    import importlib

    from reviewcat import cli
    for name, (module, _) in cli.JOBS.items():
        yield [name], importlib.import_module(module).OPTIONS
    for name, command in cli.TOOLS.items():
        yield [name], command.flags()
    for name, (_, module, attribute) in cli.GROUPS.items():
        for sub, command in getattr(importlib.import_module(module), attribute).items():
            yield [name, sub], command.flags()


def test_every_help_shows_each_default_and_each_required_flag(capsys):
    from reviewcat import cli
    seen = 0
    for words, options in _commands():
        with pytest.raises(SystemExit) as done:
            cli.main([*words, "--help"])
        assert done.value.code == 0, words
        shown = " ".join(capsys.readouterr().out.split())
        for option in options:
            if option.required:
                usage = shown.split("options:")[0]
                assert f" --{option.name} " in usage and f"[--{option.name} " not in usage, (words, option.name)
                assert "(required)" in shown, (words, option.name)
            elif option.default is not None and not option.switch:
                assert f"(default: {option.default})" in shown, (words, option.name)
            seen += 1
    assert seen > 150


def test_a_required_flag_is_refused_before_anything_starts(tmp_path):
    proc = run(REVIEWCAT + ["balance", "--input-path", tmp_path], tmp_path)
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1] == \
        "reviewcat balance: error: the following arguments are required: --output-path"
    assert not (tmp_path / "cli-warehouse").exists()  # no run log: the command stopped at its flags
    proc = run(REVIEWCAT + ["aws"], tmp_path)
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1] == \
        "reviewcat aws: error: give one of: deploy, run, status, logs, destroy"


def test_an_earlier_flag_name_still_works_and_says_what_it_is_now(capsys):
    from reviewcat import pipeline
    from reviewcat.runtime.options import parse_args
    args = parse_args(pipeline.OPTIONS, ["--input-path", "a", "--output-path", "b", "--overwrite"],
                      "reviewcat pipeline", "")
    assert args.rerun is True
    assert capsys.readouterr().err == ("reviewcat pipeline: warning: --overwrite is now --rerun; the old name goes in "
                                       "the next release\n")


def test_on_glue_a_missing_required_flag_is_one_line():
    """Glue hands over only what the job run was given: a required flag left out is named there too."""
    from reviewcat.prep import balance
    from reviewcat.runtime.errors import ReviewcatError
    from reviewcat.runtime.options import from_resolved
    with pytest.raises(ReviewcatError, match="^--output-path is required: where to write the result"):
        from_resolved(balance.OPTIONS, {"input_path": "s3://b/raw"})
