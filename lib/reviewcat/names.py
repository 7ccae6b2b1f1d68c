"""The names of the files reviewcat writes, in one place: a check that needs several of them (is
this folder reviewcat's?) imports no job to learn them."""
from __future__ import annotations

# In every output a run publishes: which run wrote it (``publishing``).
RUN_FILE = "_reviewcat.json"
# Each job's result file, beside or inside its output.
IMPORT_FILE = "_import.json"
BALANCE_FILE = "_balance.json"
BIAS_FILE = "_bias.json"  # the balance job's measure of the label's bias, beside _balance.json
MANIFEST = "manifest.json"
BIAS_JSON, BIAS_MD, BIAS_PNG = "bias.json", "bias.md", "bias.png"
PREDICT_FILE = "_predict.json"
PIPELINE_FILE = "_pipeline.json"
SEARCH_FILE = "search.json"
LABELS_FILE = "labels.json"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"

# Names that together mark a folder written by a reviewcat release from before RUN_FILE.
LEGACY_SIGNS = ((IMPORT_FILE,), (BALANCE_FILE,), (PREDICT_FILE,), (PIPELINE_FILE,), (MANIFEST, "train", "test"),
                (METRICS_FILE, REPORT_FILE), (BIAS_JSON, BIAS_MD))
