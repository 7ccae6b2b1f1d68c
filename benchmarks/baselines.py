"""What reviewcat is measured against: the code a hand-written Glue notebook would have.

None of this is used by the jobs. Each baseline does the same work as the step it is compared
with, the plain way, so the benchmark's ratios show what the job's design buys.
"""
from __future__ import annotations

import time
from functools import reduce
from multiprocessing import get_context
from typing import Sequence

from nltk.tokenize import NLTKWordTokenizer
from pyspark.sql import DataFrame, SparkSession, functions as F

from reviewcat.prep.cleaning import clean
from reviewcat.prep.text import normalize
from reviewcat.prep.tokens import SENTENCE_END, tokenize_batch
from reviewcat.schema import CATEGORY

# Spark's spark.sql.execution.arrow.maxRecordsPerBatch default: the batch the job's UDF sees.
ARROW_BATCH_ROWS = 10_000


def straightforward_balance(spark: SparkSession, path: str, output: str, seed: int) -> int:
    """Group-by count over the data, then one filtered read plus ``sample()`` per category, unioned.

    Returns the number of categories, after writing the union partitioned like the job's output.
    """
    frame = spark.read.parquet(path)
    counts = {row[CATEGORY]: row["count"] for row in frame.groupBy(CATEGORY).count().collect()}
    smallest = min(counts.values())
    parts = [spark.read.parquet(path).where(F.col(CATEGORY) == category)
             .sample(fraction=min(1.0, smallest / count), seed=seed)
             for category, count in sorted(counts.items())]
    reduce(DataFrame.unionByName, parts).write.mode("overwrite").partitionBy(CATEGORY).parquet(output)
    return len(counts)


def unpruned_read(spark: SparkSession, path: str, categories: Sequence[str]) -> DataFrame:
    """The reviews of ``categories`` read without a partition predicate, as Glue's ``from_catalog``
    without ``push_down_predicate`` does: every file is opened and other categories' rows are
    dropped after reading. The category comes from the file's folder name, as a crawler's would."""
    frame = spark.read.option("recursiveFileLookup", "true").parquet(path)
    category = F.regexp_extract(F.input_file_name(), f"{CATEGORY}=([^/]+)/", 1)
    return frame.withColumn(CATEGORY, category).where(F.col(CATEGORY).isin(list(categories)))


def rowwise_tokens(frame: DataFrame, text_column: str) -> DataFrame:
    """The same cleaning and NLTK tokenizing as the job's Arrow UDFs, one row at a time via ``rdd.map``."""
    return frame.select(text_column).rdd.map(lambda row: (normalize(row[0]),)).toDF("tokens string")


def _tokenize_all(texts: list[str | None]) -> int:
    """What the job's UDF does, in Arrow-batch-sized pieces: clean, then tokenize each piece at once."""
    kept = 0
    for start in range(0, len(texts), ARROW_BATCH_ROWS):
        tokens = tokenize_batch([clean(text) for text in texts[start:start + ARROW_BATCH_ROWS]])
        kept += sum(1 for t in tokens if t)
    return kept


def _stock_nltk_all(texts: list[str | None]) -> int:
    """The plain way: NLTK's own tokenizer (its ``regex`` rules), one sentence of one review at a time."""
    stock = NLTKWordTokenizer()
    kept = 0
    for text in texts:
        kept += any(stock.tokenize(sentence) for sentence in SENTENCE_END.split(clean(text).lower()))
    return kept


def _warm_up(_: int) -> None:
    normalize("Warm up.")
    time.sleep(0.5)  # long enough that every process takes one of these


def plain_python_tokens(texts: list[str | None], processes: int, stock_nltk: bool = False) -> dict[str, float]:
    """The same tokens from ``processes`` plain Python processes, no Spark, no JVM, no data movement:
    with the job's cleaning and batch tokenizing code (the machine's limit for the job), or with
    ``stock_nltk`` NLTK's own tokenizer row by row (what a plain script would run).

    Every process has started and imported NLTK before the clock starts, so only the work is
    timed: the result's ``seconds``.
    """
    chunks = [texts[i::processes] for i in range(processes)]
    with get_context("spawn").Pool(processes) as pool:
        pool.map(_warm_up, range(processes), chunksize=1)
        started = time.perf_counter()
        kept = sum(pool.map(_stock_nltk_all if stock_nltk else _tokenize_all, chunks, chunksize=1))
        return {"seconds": time.perf_counter() - started, "rows_out": kept}


def _renamed(frame: DataFrame, names: dict[str, str]) -> DataFrame:
    for old, new in names.items():
        frame = frame.withColumnRenamed(old, new)
    return frame


def handwritten_import(spark: SparkSession, fmt: str, path: str, output: str) -> None:
    """A dump into the partitioned review table as a notebook would do it: the reader with its
    defaults, ``withColumn`` casts, the category from the file name, the table written partitioned.

    JSON schemas are inferred (a pass over every file before the read); the TSV goes through the
    CSV reader with its default quoting, so a bare ``"`` in a body joins the rows up to the next
    one. Malformed records become rows of nulls: nothing counts them.
    """
    if fmt == "amazon-tsv":
        frame = spark.read.csv(path, sep="\t", header=True)
        for column in ("star_rating", "helpful_votes", "total_votes"):
            frame = frame.withColumn(column, F.col(column).cast("int"))
        frame = frame.withColumn("review_date", F.col("review_date").cast("date"))
    else:
        frame = spark.read.json(path)
        name = F.regexp_extract(F.input_file_name(), r"([^/.]+?)(_5)?\.json", 1)
        if fmt == "amazon-2023":
            frame = (_renamed(frame, {"user_id": "customer_id", "asin": "product_id", "parent_asin": "product_parent",
                                      "title": "review_headline", "text": "review_body", "helpful_vote": "helpful_votes"})
                     .withColumn("star_rating", F.col("rating").cast("int"))
                     .withColumn("review_date", F.to_date(F.from_unixtime(F.col("timestamp") / 1000))))
        else:
            frame = (_renamed(frame, {"reviewerID": "customer_id", "asin": "product_id", "summary": "review_headline",
                                      "reviewText": "review_body"})
                     .withColumn("star_rating", F.col("overall").cast("int"))
                     .withColumn("helpful_votes", F.regexp_replace("vote", ",", "").cast("int"))
                     .withColumn("review_date", F.to_date(F.from_unixtime("unixReviewTime"))))
        frame = (frame.withColumn(CATEGORY, name)
                 .withColumn("review_id", F.monotonically_increasing_id().cast("string")))
    frame.withColumn("year", F.year("review_date")).write.mode("overwrite").partitionBy(CATEGORY).parquet(output)


_STOCK_TOKENIZER = NLTKWordTokenizer()


def _plain_line(row) -> str:
    """One fastText line the way a notebook writes it: per row, NLTK's stock tokenizer."""
    label = "__label__" + "_".join(row[0].lower().replace("&", " ").split())
    return label + " " + " ".join(_STOCK_TOKENIZER.tokenize(clean(row[1]).lower()))


def plain_pipeline(spark: SparkSession, path: str, output: str, seed: int) -> None:
    """The talk's two steps in one hand-written script: ``straightforward_balance`` into
    ``output/balanced``, then a row-at-a-time NLTK ``rdd.map`` over it, ``randomSplit``, and each
    split ``orderBy(rand())`` + ``repartition(1)`` into ``output/<split>``."""
    balanced = f"{output}/balanced"
    straightforward_balance(spark, path, balanced, seed)
    reviews = spark.read.parquet(balanced).select(CATEGORY, "review_body").where(F.col("review_body").isNotNull())
    lines = reviews.rdd.map(lambda row: (_plain_line(row),)).toDF("line string")
    for name, split in zip(("train", "validation", "test"), lines.randomSplit([0.6, 0.2, 0.2], seed)):
        split.orderBy(F.rand(seed)).repartition(1).write.mode("overwrite").text(f"{output}/{name}")


def full_scan(spark: SparkSession, path: str) -> int:
    """Every column of every row read and hashed: what reading the input costs, the floor of any job on it."""
    frame = spark.read.parquet(path)
    return int(frame.select(F.sum(F.xxhash64(*frame.columns) % 1000)).first()[0])


def python_predict(model_path: str, table: str, text_column: str, k: int) -> int:
    """A table scored the way a script without Spark would: its texts read with pyarrow, then each
    cleaned, tokenized and given fastText's top k in turn, in one process. Returns the rows scored."""
    import pyarrow.dataset as ds

    from reviewcat.train.model import load_model, top_k
    texts = ds.dataset(table, partitioning="hive").to_table(columns=[text_column]).column(text_column).to_pylist()
    return len(top_k(load_model(model_path), [normalize(t) for t in texts], k))


if __name__ == "__main__":  # a baseline as its own script: python -m benchmarks.baselines import FMT IN OUT,
    import sys              # ... pipeline IN OUT SEED, ... scan IN, or ... predict MODEL TABLE COLUMN K
    if sys.argv[1] == "predict":
        python_predict(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        sys.exit(0)
    session = SparkSession.builder.master("local[*]").config("spark.ui.showConsoleProgress", "false").getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    if sys.argv[1] == "import":
        handwritten_import(session, *sys.argv[2:5])
    elif sys.argv[1] == "pipeline":
        plain_pipeline(session, sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        full_scan(session, sys.argv[2])
    session.stop()
