"""Both notebooks run top to bottom on local sample data, 01 then 02 (02 reads 01's balanced table)."""
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

pytestmark = pytest.mark.slow


def execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


def text_of(notebook) -> str:
    return "\n".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.get("outputs", []))


def test_notebooks_run_top_to_bottom(tmp_path, monkeypatch):
    for name, value in {"REVIEWCAT_NOTEBOOK_DIR": str(tmp_path / "nb"), "REVIEWCAT_MASTER": "local[2]",
                        "REVIEWCAT_DRIVER_MEMORY": "2g", "REVIEWCAT_LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "REVIEWCAT_SAGEMAKER_ROLE"):
        monkeypatch.delenv(name, raising=False)
    explore = text_of(execute("01_explore_and_balance.ipynb", tmp_path))
    assert "all under product_category=Gift_Card: True" in explore
    assert "reviews in 43 categories" in explore and "kept " in explore
    assert "| product_category | rows | CI | DPL | KL | JS | LP | TVD | KS |" in explore  # the sentiment bias table
    figures = [o for cell in nbformat.read(ROOT / "notebooks" / "01_explore_and_balance.ipynb", 4).cells
               for o in cell.get("outputs", [])]
    assert figures == []  # the committed notebook carries no outputs
    trained = text_of(execute("02_prepare_train_predict.ipynb", tmp_path))
    assert "so disappointed, stopped working due to water after only two weeks" in trained
    assert "# reviewcat model report" in trained
    # The DataFrame functions give the job's lines, and the model scores a table.
    counts = re.findall(r"([\d,]+) lines \(the file: ([\d,]+)\)", trained)
    assert len(counts) == 3 and all(ours == file for ours, file in counts), counts
    assert "top-1 agrees with the category for" in trained
    assert (tmp_path / "nb" / "model" / "confusion_matrix.png").exists()
