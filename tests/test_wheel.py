"""reviewcat installed from its wheel, far from the checkout: `reviewcat aws deploy` still finds the
CloudFormation template and the Glue job scripts, which the wheel carries."""
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import boto3
import pytest

from conftest import cli_env

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.*not supported by moto:UserWarning")


def build_wheel(tmp_path: Path) -> Path:
    """The wheel, built from a copy of the sources (a build writes build/ beside setup.py)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.py", "lib", "infra", "glue_jobs"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copyfile
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__", "*.egg-info")}
                                             if (ROOT / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    return next((tmp_path / "dist").glob("reviewcat-*.whl"))


def test_an_installed_wheel_deploys_without_the_checkout(aws_env, tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n for n in names if n.startswith("reviewcat/shipped/"))
    assert shipped == sorted(["reviewcat/shipped/infra/reviewcat.yaml"] + [
        f"reviewcat/shipped/glue_jobs/{p.name}" for p in (ROOT / "glue_jobs").glob("*.py")])
    # A fresh venv outside the checkout: the wheel in it, the dependencies of this one beside it.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import reviewcat.aws.deploy as a; print(a.__file__, a.TEMPLATE)"],
                           capture_output=True, text=True, cwd=elsewhere, check=True).stdout.split()
    assert where[0].startswith(str(site)) and where[1] == str(site / "reviewcat/shipped/infra/reviewcat.yaml")

    # A project name of its own: the other deploy tests' stacks on the same server name their roles by theirs.
    done = subprocess.run([str(venv / "bin" / "reviewcat"), "aws", "deploy", "--stack", "rc-wheel",
                           "--parameter", "ProjectName=rc-wheel"],
                          env=cli_env(tmp_path), cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    bucket = next(line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith("BucketName: "))
    s3 = boto3.client("s3")
    for script in (ROOT / "glue_jobs").glob("*.py"):
        uploaded = s3.get_object(Bucket=bucket, Key=f"artifacts/glue_jobs/{script.name}")["Body"].read()
        assert uploaded == script.read_bytes()
    s3.download_file(bucket, "artifacts/reviewcat.zip", str(tmp_path / "lib.zip"))
    zipped = zipfile.ZipFile(tmp_path / "lib.zip").namelist()
    assert "reviewcat/prep/prepare.py" in zipped and not [n for n in zipped if n.startswith("reviewcat/shipped/")]
