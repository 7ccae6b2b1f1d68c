"""reviewcat predict-table: every row of a table scored in Spark, as `reviewcat predict` scores one text."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.scoring import predict_table
from reviewcat.scoring.predict import predict
from reviewcat.train.model import load_model, top_k

from conftest import TOOLS_BIN, TRAIN_CATEGORIES, cli_env
from helpers import leftovers

ROOT = Path(__file__).resolve().parents[1]


def score(rt, **values):
    return predict_table.predict_table(rt, **values)


def test_every_row_is_scored_best_first_with_category_names_as_predict_gives(rt, spark, trained, table, tmp_path):
    out = tmp_path / "scored"
    summary = score(rt, input_path=table, model=str(trained / "model.bin"), output_path=str(out), top_k=3)
    raw = spark.read.parquet(table)
    scored = spark.read.parquet(str(out))
    assert summary["rows"] == scored.count() == raw.count()
    assert not [p for p in out.iterdir() if p.is_dir()]  # not partitioned unless asked
    # A review table keeps its category beside the id, so a user can compare.
    assert scored.columns == ["review_id", "product_category", "labels", "probabilities"]
    rows = {r["review_id"]: r for r in scored.collect()}
    assert len(rows) == raw.select("review_id").distinct().count()  # the generator repeats some reviews
    for row in rows.values():
        assert len(row["labels"]) == 3 and set(row["labels"]) <= set(TRAIN_CATEGORIES)
        assert row["probabilities"] == sorted(row["probabilities"], reverse=True)
    # The same cleaning, tokens and model as `reviewcat predict` on each text.
    sample = raw.select("review_id", "review_body").limit(40).collect()
    expected = predict(str(trained / "model.bin"), None, [r["review_body"] for r in sample], 3)
    for r, pairs in zip(sample, expected):
        got = rows[r["review_id"]]
        assert got["labels"] == [name for name, _ in pairs]
        assert got["probabilities"] == pytest.approx([p for _, p in pairs], abs=1e-6)
    # Most unseen reviews land in their own category: the scores are the model's, not noise.
    right = sum(rows[r["review_id"]]["labels"][0] == r["product_category"]
                for r in raw.select("review_id", "product_category").collect())
    assert right / len(rows) > 0.6
    assert json.loads((out / "_predict.json").read_text())["top_k"] == 3


def test_bad_model_and_missing_text_column_are_one_line_errors_and_write_nothing(rt, trained, table, tmp_path):
    out = tmp_path / "scored"
    with pytest.raises(ReviewcatError, match="model .*nope.bin not found"):
        score(rt, input_path=table, model=str(tmp_path / "nope.bin"), output_path=str(out))
    broken = tmp_path / "broken.bin"
    broken.write_bytes(b"not a fastText model")
    with pytest.raises(ReviewcatError, match="model .*broken.bin cannot be used: it is not a fastText model"):
        score(rt, input_path=table, model=str(broken), output_path=str(out))
    with pytest.raises(ReviewcatError, match="give --model .* or --sagemaker-job"):
        score(rt, input_path=table, output_path=str(out))
    with pytest.raises(ReviewcatError, match="give --model .* or --sagemaker-job"):
        score(rt, input_path=table, model=str(trained / "model.bin"), sagemaker_job="reviewcat-1", output_path=str(out))
    with pytest.raises(ReviewcatError, match="labels file .*nope.json not found"):
        score(rt, input_path=table, model=str(trained / "model.bin"), labels=str(tmp_path / "nope.json"),
              output_path=str(out))
    with pytest.raises(ReviewcatError, match="has no column ticket_text .from --text-column"):
        score(rt, input_path=table, model=str(trained / "model.bin"), output_path=str(out), text_column="ticket_text")
    with pytest.raises(ReviewcatError, match="has no column queue .from --keep-columns"):
        score(rt, input_path=table, model=str(trained / "model.bin"), output_path=str(out), keep_columns="queue")
    with pytest.raises(ReviewcatError, match="--keep-columns names review_id twice .the id column is always kept"):
        score(rt, input_path=table, model=str(trained / "model.bin"), output_path=str(out), keep_columns="review_id")
    with pytest.raises(ReviewcatError, match="--keep-columns names year twice"):
        score(rt, input_path=table, model=str(trained / "model.bin"), output_path=str(out), keep_columns="year,year")
    with pytest.raises(ReviewcatError, match="table nodb.tickets not found in the catalog"):
        score(rt, database="nodb", table="tickets", model=str(trained / "model.bin"), output_path=str(out))
    with pytest.raises(ReviewcatError, match="--delimiter describes CSV files, and these are parquet"):
        score(rt, input_path=table, model=str(trained / "model.bin"), output_path=str(out), delimiter=";")
    named = tmp_path / "named"
    rt.spark.createDataFrame([("a fine lens", "x")], "review_body string, tokens string").write.parquet(str(named))
    with pytest.raises(ReviewcatError, match="the table's column tokens has a name scoring gives its own columns"):
        score(rt, input_path=str(named), model=str(trained / "model.bin"), output_path=str(out), keep_columns="tokens")
    assert not out.exists() and not leftovers(str(out))


TICKETS = [("Kitchen", "Blender jar cracked", "the blender jar cracked on the first smoothie, the kitchen knife set is fine"),
           ("Shoes", "Sizing", "these running shoes pinch my toes, the heel and the laces are too short"),
           ("Camera", "Lens", "the camera lens will not focus and the shutter sticks, photos are blurry"),
           ("Books", "Plot", "the novel's plot drags, the author wrote better characters in the paperback"),
           ("Pet_Products", "Treats", "my dog refuses these treats and the cat litter smells")]


def ticket_rows(n):
    """n unlabelled tickets: an id, a subject and a body, a channel to keep; the truth on the side."""
    return [{"ticket": f"T{i:04d}", "subject": subject, "body": f"{body}, order {i}", "channel": ["mail", "chat"][i % 2]}
            for i in range(n) for _, subject, body in [TICKETS[i % len(TICKETS)]]], \
        {f"T{i:04d}": TICKETS[i % len(TICKETS)][0] for i in range(n)}


def test_an_unlabelled_csv_of_tickets_is_scored_with_its_own_columns(rt, spark, trained, tmp_path):
    rows, truth = ticket_rows(60)
    export = tmp_path / "export" / "tickets.csv"
    export.parent.mkdir()
    lines = ["ticket;subject;body;channel"] + [f'{r["ticket"]};{r["subject"]};"{r["body"]}";{r["channel"]}' for r in rows] \
        + ['T9999;cut;"an unterminated quote;mail']  # a record the reader cannot parse
    export.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    out = tmp_path / "scored"
    summary = score(rt, input_path=str(export), model=str(trained / "model.bin"), output_path=str(out), top_k=2,
                    id_column="ticket", text_column="subject,body", keep_columns="channel", delimiter=";",
                    encoding="windows-1252", partition_by_prediction=True)
    scored = spark.read.parquet(str(out))
    assert summary["rows"] == 60 and summary["partitioned_by"] == "prediction" and summary["malformed_rows"] == 1
    assert summary["text_columns"] == ["subject", "body"] and summary["kept_columns"] == ["channel"]
    assert sorted(scored.columns) == ["channel", "labels", "prediction", "probabilities", "ticket"]
    assert {p.name.split("=", 1)[0] for p in out.iterdir() if p.is_dir()} == {"prediction"}
    got = {r["ticket"]: r for r in scored.collect()}
    assert all(r["prediction"] == r["labels"][0] and len(r["labels"]) == 2 for r in got.values())
    assert got["T0001"]["channel"] == "chat"
    # the text is subject and body joined as the import joins them, scored as `reviewcat predict` scores it
    [expected] = predict(str(trained / "model.bin"), None, [f'{rows[3]["subject"]} . {rows[3]["body"]}'], 2)
    assert got["T0003"]["labels"] == [name for name, _ in expected]
    assert sum(got[t]["labels"][0] == truth[t] for t in got) / len(got) > 0.8


def test_an_unlabelled_parquet_file_without_ids_gets_ids_derived_from_its_rows(rt, spark, trained, tmp_path):
    rows, _ = ticket_rows(20)
    path = tmp_path / "new.parquet"
    spark.createDataFrame([{k: v for k, v in r.items() if k != "ticket"} for r in rows]) \
        .coalesce(1).write.parquet(str(tmp_path / "spark-out"))
    path.write_bytes(next((tmp_path / "spark-out").glob("*.parquet")).read_bytes())
    out = tmp_path / "scored"
    summary = score(rt, input_path=str(path), model=str(trained / "model.bin"), output_path=str(out),
                    text_column=["body"])
    scored = spark.read.parquet(str(out))
    assert summary["id_column"] == "review_id" and summary["kept_columns"] == []
    assert scored.columns == ["review_id", "labels", "probabilities"] and scored.count() == 20
    ids = [r["review_id"] for r in scored.collect()]
    assert len(set(ids)) == 20 and all(i.startswith("R") and len(i) == 21 for i in ids)
    # The same file as a catalog table (not partitioned): the same rows and ids.
    spark.sql("CREATE DATABASE IF NOT EXISTS scoring")
    spark.sql(f"CREATE TABLE IF NOT EXISTS scoring.new_tickets USING parquet LOCATION '{tmp_path / 'spark-out'}'")
    again = tmp_path / "again"
    score(rt, database="scoring", table="new_tickets", model=str(trained / "model.bin"), output_path=str(again),
          text_column="body")
    with pytest.raises(ReviewcatError, match="--encoding and --delimiter describe CSV files: a catalog table"):
        score(rt, database="scoring", table="new_tickets", model=str(trained / "model.bin"),
              output_path=str(tmp_path / "x"), text_column="body", delimiter=";")
    assert sorted(ids) == sorted(r["review_id"] for r in spark.read.parquet(str(again)).collect())  # stable


def test_the_glue_entry_point_scores_a_table_and_fails_in_one_line(trained, table, tmp_path):
    job = [sys.executable, str(ROOT / "glue_jobs" / "predict_table.py"), "--input-path", table,
           "--model", str(trained / "model.bin"), "-k", "2", "--output-path"]
    done = subprocess.run(job + [str(tmp_path / "out")], env=cli_env(tmp_path), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "_predict.json").read_text())["rows"] == 1500
    again = subprocess.run(job + [str(tmp_path / "out")], env=cli_env(tmp_path), capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1].startswith("predict_table: error: output path")


def test_the_glue_jobs_fasttext_gives_the_same_answers_as_trainings(trained, prepared_dir):
    """The Glue job installs fasttext-predict (wheels for Glue 6's Python 3.13, which fasttext-wheel
    lacks): the same model and tokens must give the same labels and probabilities through it."""
    lines = (Path(prepared_dir) / "test" / "test.txt").read_text().splitlines()[:300]
    texts = [line.split(" ", 1)[1] if " " in line else "" for line in lines] + ["", "unseenword"]
    script = ("import json, sys; from importlib.metadata import version; "
              "from reviewcat.train.model import load_model, top_k; "
              "print(json.dumps([version('fasttext-predict'), top_k(load_model(sys.argv[1]), json.load(sys.stdin), 3)]))")
    python = TOOLS_BIN / "python"
    assert python.exists(), f"{python} is missing: run `make test`, which installs fasttext-predict in .venv-tools"
    done = subprocess.run([str(python), "-c", script, str(trained / "model.bin")], input=json.dumps(texts),
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT / "lib")})
    assert done.returncode == 0, done.stderr
    release, theirs = json.loads(done.stdout)
    assert release == "0.9.2.4"
    ours = top_k(load_model(str(trained / "model.bin")), texts, 3)
    assert [[label for label, _ in a] for a in theirs] == [[label for label, _ in a] for a in ours]
    assert [p for a in theirs for _, p in a] == pytest.approx([p for a in ours for _, p in a], abs=1e-7)
