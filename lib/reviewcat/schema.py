"""The names every layer shares, in one place: the review table's columns, the split names and the
files reviewcat writes. A check that needs several of them (is this folder reviewcat's?) imports
no job to learn them, and this module imports nothing.
"""
from __future__ import annotations

# The review table: the retired public table's columns, partitioned by CATEGORY, with their Spark
# types. The import writes them; the generators write the same (``synthetic.sample_data``).
REVIEW_TABLE = (
    ("marketplace", "string"), ("customer_id", "string"), ("review_id", "string"),
    ("product_id", "string"), ("product_parent", "string"), ("product_title", "string"),
    ("star_rating", "int"), ("helpful_votes", "int"), ("total_votes", "int"),
    ("vine", "string"), ("verified_purchase", "string"), ("review_headline", "string"),
    ("review_body", "string"), ("review_date", "date"), ("year", "int"),
)
CATEGORY = "product_category"  # the partition column, and the default label
RATING = "star_rating"  # 1-5 stars, what sentiment labels come from
SENTIMENT = {"negative": (1, 2), "neutral": (3,), "positive": (4, 5)}  # each sentiment's stars
# The retired TSV dump's header row: the table's columns in its order, CATEGORY among them, no year.
TSV_HEADER = ["marketplace", "customer_id", "review_id", "product_id", "product_parent", "product_title",
              CATEGORY, RATING, "helpful_votes", "total_votes", "vine", "verified_purchase",
              "review_headline", "review_body", "review_date"]
# Columns a job adds while it works: each row's class, and its rank within its class in the sample.
LABEL = "__reviewcat_label"
SAMPLE_ORDER = "sample_order"
# A line's group for a grouped split (prepare --group-column): every group's lines go to one split.
SPLIT_GROUP = "split_group"

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
DRIFT_REFERENCE = "drift_reference.json"  # beside a model: what new data is compared with (reviewcat.scoring.drift)

# The result files of releases from before RUN_FILE, each with a key its JSON holds (None: the name
# is reviewcat's alone): a folder holding one is an output of reviewcat's, which --overwrite may replace.
LEGACY_RESULTS = {IMPORT_FILE: None, BALANCE_FILE: None, PREDICT_FILE: None, PIPELINE_FILE: None,
                  MANIFEST: "created_by", METRICS_FILE: "accuracy_ci95", SEARCH_FILE: "backend", BIAS_JSON: "facet"}

# The splits prepare writes, each as <split>/<split>.txt, in this order.
SPLITS = ("train", "validation", "test")
