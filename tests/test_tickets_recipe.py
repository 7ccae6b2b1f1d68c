"""The README's "Classify new tickets" recipe, run as written in a fresh folder."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import cli_env

ROOT = Path(__file__).resolve().parents[1]


def recipe() -> str:
    """The first bash block under the README's "## Classify new tickets"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Classify new tickets\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_the_readme_recipe_trains_on_routed_tickets_and_scores_new_ones(tmp_path):
    env = cli_env(tmp_path)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # the `reviewcat` of this checkout
    env["REVIEWCAT_LOG_LEVEL"] = "INFO"
    work = tmp_path / "user"
    work.mkdir()
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", recipe()], cwd=work, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((work / "tickets/work/model/metrics.json").read_text())
    assert metrics["accuracy"] > 0.7 and metrics["top_k"]["accuracy"] > 0.9
    scored = json.loads((work / "tickets/scored/_predict.json").read_text())
    assert scored["rows"] == 5000 and scored["id_column"] == "Ticket ID" and scored["kept_columns"] == ["Channel"]
    assert scored["drift"]["retrain"] is False
    queues = {p.name for p in (work / "tickets/scored").iterdir() if p.is_dir()}
    assert queues == {"prediction=Billing & Payments", "prediction=Login %2F Access", "prediction=Returns & Refunds",
                      "prediction=Shipping & Delivery", "prediction=Technical Issue"}
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "drift over 5,000 rows:" and lines[-1].startswith("no drift beyond the limits")
