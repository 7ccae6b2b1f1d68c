"""reviewcat import: each dump format with its quirks, rejects, re-import identity and incremental adds."""
import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from reviewcat.ingest import importer
from reviewcat.prep import balance, prepare
from reviewcat.runtime.errors import ReviewcatError
from reviewcat.synthetic.sample_data import SCHEMA

from helpers import leftovers, read_categories


def run_import(rt, **values):
    return importer.import_table(rt, **values)


def write(path: Path, lines, gz=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(line + "\n" for line in lines)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def review_2023(i, **changes):
    record = {"rating": float(1 + i % 5), "title": f"Title {i}", "text": f"Review number {i} of this book",
              "images": [], "asin": f"B{i:09d}", "parent_asin": f"P{i:09d}", "user_id": f"U{i}",
              "timestamp": 1588687728923 + i * 1000, "helpful_vote": i % 3, "verified_purchase": i % 2 == 0}
    record.update(changes)
    return json.dumps({k: v for k, v in record.items() if v is not ...}, ensure_ascii=False)


def dump_2023(root: Path) -> Path:
    """Books: 12 good records with every quirk, 5 malformed ones; Camera: 10 good, gzipped."""
    good = [review_2023(i) for i in range(8)] + [
        review_2023(8, text="Fine &amp; dandy<br /><br />second line &quot;quoted&quot;"),
        review_2023(9, text="Größe passt, très bien 👍 — 日本語", title="Ünïcode"),
        review_2023(10, helpful_vote=..., title=..., verified_purchase=...),  # fields left out
        review_2023(0),  # the same record posted twice
    ]
    bad = ['{"rating": 5.0, "title": "cut off', review_2023(11, rating=7.0), review_2023(12, rating=...),
           review_2023(13, timestamp=1588687728), review_2023(14, timestamp="yesterday")]
    write(root / "Books.jsonl", good[:6] + bad + ["", "   "] + good[6:])
    write(root / "Camera.jsonl.gz", [review_2023(100 + i) for i in range(6)], gz=True)
    write(root / "Camera.01.jsonl.gz", [review_2023(106 + i) for i in range(4)], gz=True)  # a part of a split file
    write(root / "meta_Books.jsonl", ['{"parent_asin": "P1", "title": "item metadata, not reviews"}'])
    return root


def write_lines(path: Path, lines) -> Path:
    write(path, lines)
    return path


def table(spark, path):
    return spark.read.parquet(str(path))


def test_amazon_2023_rows_types_ids_and_rejects(rt, spark, tmp_path):
    out = tmp_path / "reviews"
    # A folder name that URIs encode: the rows' files must still be recognised.
    result = run_import(rt, format="amazon-2023", input_path=str(dump_2023(tmp_path / "my dumps & more %")),
                        output_path=str(out), max_rejected_fraction=0.5)
    assert read_categories(spark, str(out)) == {"Books": 12, "Camera": 10}
    file_schema = pq.read_schema(next(out.glob("product_category=Books/*.parquet")))
    assert [(f.name, f.type) for f in file_schema] == [(f.name, f.type) for f in SCHEMA]
    rows = {r["review_headline"]: r for r in table(spark, out).collect()}
    assert rows["Title 8"]["review_body"] == "Fine &amp; dandy<br /><br />second line &quot;quoted&quot;"
    assert rows["Ünïcode"]["review_body"] == "Größe passt, très bien 👍 — 日本語"
    one = rows["Title 1"]
    assert (one["star_rating"], one["product_id"], one["product_parent"], one["customer_id"], one["marketplace"],
            one["helpful_votes"], one["verified_purchase"], str(one["review_date"]), one["year"]) == \
        (2, "B000000001", "P000000001", "U1", "US", 1, "N", "2020-05-05", 2020)
    sparse = table(spark, out).where("review_body = 'Review number 10 of this book'").first()
    assert sparse["review_headline"] is None and sparse["helpful_votes"] is None and sparse["verified_purchase"] is None
    ids = [r["review_id"] for r in table(spark, out).where("product_category = 'Books'").collect()]
    assert all(i.startswith("R") and len(i) == 21 for i in ids)
    assert len(ids) == 12 and len(set(ids)) == 11  # the record posted twice shares its id

    summary = json.loads((out / "_import.json").read_text())
    assert summary == result.summary and summary["rows"] == 22 and summary["rejected"] == 5
    books = next(info for path, info in summary["files"].items() if path.endswith("/Books.jsonl"))
    assert books == {"categories": {"Books": 12}, "records": 17, "imported": 12, "rejected": {
        "malformed record": 2, "rating not 1-5": 1, "missing rating": 1, "date out of range": 1}}
    assert not any("meta_" in path for path in summary["files"])
    rejected = spark.read.json(str(out / "_rejected")).collect()
    assert {r["source"] for r in rejected} == {"Books.jsonl"}
    assert sorted(r["reason"] for r in rejected) == ["date out of range", "malformed record", "malformed record",
                                                     "missing rating", "rating not 1-5"]
    assert '{"rating": 5.0, "title": "cut off' in [r["record"] for r in rejected]
    assert all(r["file"].endswith("/my%20dumps%20&%20more%20%25/Books.jsonl") for r in rejected)


def test_same_input_same_table_and_new_categories_are_added(rt, spark, tmp_path):
    dump = dump_2023(tmp_path / "dump")
    first, again = tmp_path / "first", tmp_path / "again"
    for out in (first, again):
        run_import(rt, format="amazon-2023", input_path=str(dump / "Books.jsonl"), output_path=str(out),
                   max_rejected_fraction=0.5)
    rows = lambda out: sorted(tuple(r) for r in table(spark, out).collect())  # noqa: E731
    assert rows(first) == rows(again)
    assert (first / "_import.json").read_text() == (again / "_import.json").read_text()

    books_files = sorted(p.name for p in (first / "product_category=Books").iterdir())
    added = run_import(rt, format="amazon-2023", input_path=str(dump / "Camera*"), output_path=str(first))
    assert sorted(p.name for p in (first / "product_category=Books").iterdir()) == books_files  # not rewritten
    assert read_categories(spark, str(first)) == {"Books": 12, "Camera": 10}
    assert added.summary["categories"] == {"Books": 12, "Camera": 10} and len(added.summary["files"]) == 3
    assert added.summary["rejected"] == 5  # Books' rejects are still accounted for

    with pytest.raises(ReviewcatError, match="already holds Books, Camera: pass --overwrite to replace them"):
        run_import(rt, format="amazon-2023", input_path=str(dump), output_path=str(first), max_rejected_fraction=0.5)
    replaced = run_import(rt, format="amazon-2023", input_path=str(dump), output_path=str(first),
                          max_rejected_fraction=0.5, overwrite=True)
    assert rows(first) == sorted(rows(again) + [r for r in rows(first) if r[-1] == "Camera"])
    assert replaced.summary["rows"] == 22 and not leftovers(str(first))
    assert sorted(p.name for p in (first / "_rejected").glob("source=*")) == ["source=Books.jsonl"]


def test_amazon_2018_votes_dates_missing_fields_and_5_core_files(rt, spark, tmp_path):
    def review(i, **changes):
        record = {"overall": 4.0, "verified": True, "reviewTime": "09 13, 2009", "reviewerID": f"A{i}",
                  "asin": f"000{i}", "style": {"Format:": " Hardcover"}, "reviewerName": "Jo", "summary": f"S{i}",
                  "reviewText": f"Text {i}", "unixReviewTime": 1252800000, "vote": "3", "image": ["x.jpg"]}
        record.update(changes)
        return json.dumps({k: v for k, v in record.items() if v is not ...})
    write(tmp_path / "d" / "Books.json.gz", [review(1, vote="1,234"), review(2, vote=...), review(3, reviewText=...),
                                             review(4, unixReviewTime=..., reviewTime="02 29, 2016"),
                                             review(5, unixReviewTime=..., reviewTime="13 45, 2009"),
                                             review(6, vote="lots")], gz=True)
    write(tmp_path / "d" / "Books_5.json.gz", [review(7)], gz=True)
    out = tmp_path / "t"
    result = run_import(rt, format="amazon-2018", input_path=str(tmp_path / "d"), output_path=str(out),
                        max_rejected_fraction=0.5)
    rows = {r["customer_id"]: r for r in table(spark, out).collect()}
    assert sorted(rows) == ["A1", "A2", "A3", "A4", "A7"] and {r["product_category"] for r in rows.values()} == {"Books"}
    assert (rows["A1"]["helpful_votes"], rows["A2"]["helpful_votes"]) == (1234, 0)
    assert rows["A3"]["review_body"] is None and rows["A1"]["star_rating"] == 4
    assert (str(rows["A1"]["review_date"]), str(rows["A4"]["review_date"])) == ("2009-09-13", "2016-02-29")
    books = next(i for p, i in result.summary["files"].items() if p.endswith("/Books.json.gz"))
    assert books["rejected"] == {"invalid number": 1, "unparsable date": 1}


TSV_HEADER = ("marketplace\tcustomer_id\treview_id\tproduct_id\tproduct_parent\tproduct_title\tproduct_category\t"
              "star_rating\thelpful_votes\ttotal_votes\tvine\tverified_purchase\treview_headline\treview_body\treview_date")


def tsv_row(i, body='He said "this is great and then', rating="5", date="2015-08-31", category="Books", votes="2"):
    return "\t".join(["US", str(10_000 + i), f"R{i:013d}", f"B{i:09d}", "123", 'Title "one', category, rating, votes,
                      "3", "N", "Y", f'Head "{i}', body, date])


def test_amazon_tsv_bare_quotes_stay_inside_their_row(rt, spark, tmp_path):
    lines = [TSV_HEADER] + [tsv_row(i) for i in range(6)] + [
        tsv_row(6, body='ends with a quote"'), tsv_row(7, body='"starts with one'),
        tsv_row(8, rating="6"), tsv_row(9, date="2015-02-30"), tsv_row(10, votes="two"),
        "US\t1\tR1\tB1\ttoo few fields", tsv_row(11, category="Wireless")]
    write(tmp_path / "d" / "amazon_reviews_us_Books_v1_00.tsv.gz", lines, gz=True)
    out = tmp_path / "t"
    result = run_import(rt, format="amazon-tsv", input_path=str(tmp_path / "d" / "*.tsv.gz"), output_path=str(out),
                        max_rejected_fraction=0.5)
    assert read_categories(spark, str(out)) == {"Books": 8, "Wireless": 1}
    rows = {r["review_id"]: r for r in table(spark, out).collect()}
    assert rows["R0000000000006"]["review_body"] == 'ends with a quote"'
    assert rows["R0000000000007"]["review_body"] == '"starts with one'
    assert rows["R0000000000001"]["product_title"] == 'Title "one' and rows["R0000000000001"]["total_votes"] == 3
    assert str(rows["R0000000000001"]["review_date"]) == "2015-08-31" and rows["R0000000000001"]["year"] == 2015
    (info,) = result.summary["files"].values()
    assert info["records"] == 13 and info["rejected"] == {
        "rating not 1-5": 1, "unparsable date": 1, "invalid number": 1, "wrong number of fields": 1}


def ticket_csv(path: Path) -> Path:
    write(path, ["ticket_id,description,queue,priority",
                 'T1,"Card was charged twice, please refund",Billing & Payments,high',
                 'T2,"Cannot log in.\nThe app says ""invalid token"" every time",Login / Access,low',
                 "T3,Refund still missing after a week,Billing & Payments,low",
                 "T4,Password reset mail never arrives,Login / Access,high",
                 "T5,No queue on this one,,low",
                 ",Ticket without an id,Billing & Payments,low",
                 'T6,"unterminated quote,Login / Access,low'])
    return path


def test_table_csv_maps_id_text_and_label_and_keeps_other_columns(rt, spark, tmp_path):
    out = tmp_path / "t"
    result = run_import(rt, format="table", input_path=str(ticket_csv(tmp_path / "d" / "tickets.csv")),
                        output_path=str(out), id_column="ticket_id", text_column="description", label_column="queue",
                        max_rejected_fraction=0.5)
    assert read_categories(spark, str(out)) == {"Billing & Payments": 2, "Login / Access": 2}
    rows = {r["review_id"]: r for r in table(spark, out).collect()}
    assert rows["T2"]["review_body"] == 'Cannot log in.\nThe app says "invalid token" every time'
    assert rows["T1"]["priority"] == "high" and "description" not in table(spark, out).columns
    (info,) = result.summary["files"].values()
    assert info["rejected"] == {"empty label": 1, "missing id": 1, "malformed record": 1}


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_table_json_lines_and_parquet(rt, spark, tmp_path, kind):
    rows = [{"id": i, "body": f"ticket text number {i}", "team": ["Network", "Billing"][i % 2], "n": i}
            for i in range(10)]
    source = tmp_path / "d"
    if kind == "jsonl":
        write(source / "part-1.jsonl", [json.dumps(r) for r in rows[:5]] + ["{broken"])
        write(source / "part-2.jsonl.gz", [json.dumps(r) for r in rows[5:]], gz=True)
    else:
        spark.createDataFrame(rows).write.parquet(str(source))
    out = tmp_path / "t"
    run_import(rt, format="table", input_path=str(source), output_path=str(out), id_column="id", text_column="body",
               label_column="team", max_rejected_fraction=0.2)
    assert read_categories(spark, str(out)) == {"Network": 5, "Billing": 5}
    imported = table(spark, out)
    assert sorted(r["review_id"] for r in imported.collect()) == sorted(str(i) for i in range(10))
    assert dict(imported.dtypes)["n"] == "bigint"
    other = tmp_path / "other.csv"
    write(other, ["id,body,team", "99,a ticket with fewer columns,Sales"])
    with pytest.raises(ReviewcatError, match=r"columns differ from this input's in n: import into another --output-path"):
        run_import(rt, format="table", input_path=str(other), output_path=str(out), id_column="id",
                   text_column="body", label_column="team")


def test_a_real_ticket_export_bom_crlf_semicolons_latin1_two_text_columns_and_a_rating(rt, spark, tmp_path):
    """An export as spreadsheet tools write it: a byte order mark, CRLF endings, ';' between fields,
    a subject and a body, a multi-line quoted body, a Rating column; and the same in Latin-1."""
    lines = ["Ticket;Subject;Body;Queue;Rating",
             'A1;Refund;"Charged twice;\r\nplease refund";Billing;4',
             "A2;Login;I cannot sign in;Access;1.0",
             "A3;;Only a body here;Access;",
             "A4;Très cher;Prix élevé;Billing;2",
             "A5;Bad rating;text;Billing;five",
             "A6;Out of range;text;Billing;7"]
    text = "\r\n".join(lines) + "\r\n"
    (tmp_path / "utf8").mkdir()
    (tmp_path / "utf8" / "export.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "latin1").mkdir()
    (tmp_path / "latin1" / "export.csv").write_bytes(text.encode("latin-1"))
    common = dict(format="table", id_column="Ticket", text_column="Subject,Body", label_column="Queue",
                  rating_column="Rating", delimiter=";", max_rejected_fraction=0.5)
    results = {}
    for name, encoding in [("utf8", None), ("latin1", "ISO-8859-1")]:
        out = tmp_path / f"t-{name}"
        result = run_import(rt, input_path=str(tmp_path / name), output_path=str(out), encoding=encoding, **common)
        results[name] = {r["review_id"]: r.asDict() for r in table(spark, out).collect()}
        (info,) = result.summary["files"].values()
        assert info["rejected"] == {"rating not a number": 1, "rating not 1-5": 1}
    assert results["utf8"] == results["latin1"]
    rows = results["utf8"]
    assert sorted(rows) == ["A1", "A2", "A3", "A4"]
    # Spark's CSV reader ends a line inside a quoted field with LF, as on the lines between records.
    assert rows["A1"]["review_body"] == "Refund . Charged twice;\nplease refund"
    assert rows["A3"]["review_body"] == "Only a body here" and rows["A3"]["star_rating"] is None
    assert rows["A4"]["review_body"] == "Très cher . Prix élevé"
    assert [rows[i]["star_rating"] for i in ("A1", "A2", "A4")] == [4, 1, 2]
    assert set(rows["A1"]) == {"review_id", "review_body", "star_rating", "product_category"}
    assert dict(table(spark, tmp_path / "t-utf8").dtypes)["star_rating"] == "int"


def test_a_table_without_labels_imports_unpartitioned_for_scoring(rt, spark, tmp_path):
    write(tmp_path / "d" / "new.tsv", ["id\ttext\tchannel", "N1\tmy parcel is late\tmail", "N2\tcannot sign in\tchat",
                                       "\tno id\tchat"])
    out = tmp_path / "t"
    result = run_import(rt, format="table", input_path=str(tmp_path / "d"), output_path=str(out), id_column="id",
                        text_column="text", no_label=True, max_rejected_fraction=0.5)
    assert result.summary["labelled"] is False and result.summary["rows"] == 2 and result.summary["categories"] == {}
    assert not list(out.glob("product_category=*")) and list(out.glob("*.parquet"))
    assert sorted(table(spark, out).columns) == ["channel", "review_body", "review_id"]
    again = run_import(rt, format="table", input_path=str(tmp_path / "d"), output_path=str(out), id_column="id",
                       text_column="text", max_rejected_fraction=0.5, overwrite=True)  # no --label-column: the same
    assert again.summary["rows"] == 2
    with pytest.raises(ReviewcatError, match="already exists: choose another --output-path or pass --overwrite"):
        run_import(rt, format="table", input_path=str(tmp_path / "d"), output_path=str(out), id_column="id",
                   text_column="text", no_label=True, max_rejected_fraction=0.5)


def test_a_table_spread_over_many_files_becomes_a_few_files_per_label(rt, spark, tmp_path):
    for part in range(12):
        write(tmp_path / "d" / f"part-{part:02d}.csv",
              ["id,text,queue"] + [f"{part}-{i},text {i},{['Billing', 'Access', 'Shipping'][i % 3]}" for i in range(30)])
    out = tmp_path / "t"
    run_import(rt, format="table", input_path=str(tmp_path / "d"), output_path=str(out), id_column="id",
               text_column="text", label_column="queue")
    files = {p.parent.name: len(list(p.parent.glob("*.parquet"))) for p in out.glob("product_category=*/*.parquet")}
    assert files == {"product_category=Access": 1, "product_category=Billing": 1, "product_category=Shipping": 1}


def test_imported_tickets_balance_and_prepare_with_the_users_label_names(rt, spark, tmp_path):
    rows = [f"T{i},{text} number {i} please help,{queue},low" for i in range(60)
            for queue, text in [(["Billing & Payments", "Login / Access", "Shipping"][i % 3],
                                 ["my invoice shows a wrong amount", "i cannot sign in to my account",
                                  "the parcel has not arrived yet"][i % 3])]]
    write(tmp_path / "d" / "tickets.csv", ["id,text,queue,priority"] + rows)
    imported, balanced, prepared = (str(tmp_path / n) for n in ("imported", "balanced", "prepared"))
    run_import(rt, format="table", input_path=str(tmp_path / "d"), output_path=imported, id_column="id",
               text_column="text", label_column="queue")
    balance.balance(rt, input_path=imported, output_path=balanced)
    manifest = prepare.prepare(rt, input_path=balanced, output_path=prepared).manifest
    assert manifest["labels"] == {"__label__billing_payments": "Billing & Payments",
                                  "__label__login_access": "Login / Access", "__label__shipping": "Shipping"}
    assert sum(manifest["files"]["train"]["labels"].values()) == manifest["files"]["train"]["rows"] > 0


@pytest.mark.parametrize("fmt", ["amazon-2023", "amazon-2018", "amazon-tsv"])
def test_each_generated_dump_imports_balances_and_prepares(rt, spark, tmp_path, fmt):
    from reviewcat.synthetic.sample_data import write_sample_data
    dump, imported = str(tmp_path / "dump"), str(tmp_path / "imported")
    categories = ["Electronics", "Books", "Home_and_Kitchen"] if fmt == "amazon-2023" else ["Camera", "Watches", "Kitchen"]
    sizes = write_sample_data(dump, 3000, seed=4, categories=categories, fmt=fmt)
    result = run_import(rt, format=fmt, input_path=dump, output_path=imported)
    assert result.summary["categories"] == sizes and result.summary["rejected"] == 0
    balance.balance(rt, input_path=imported, output_path=str(tmp_path / "b"))
    manifest = prepare.prepare(rt, input_path=str(tmp_path / "b"),
                               output_path=str(tmp_path / "p")).manifest
    assert set(manifest["labels"].values()) == set(sizes)
    assert all(manifest["files"][split]["rows"] > 0 for split in ("train", "validation", "test"))


@pytest.mark.parametrize("chunk_rows", [250_000, 150])
def test_the_generated_dumps_carry_the_generated_reviews(rt, spark, tmp_path, chunk_rows):
    """Also when a category is written in chunks: gzip members one after the other, the header row
    only in the first, which Spark reads as one file."""
    from reviewcat.synthetic.sample_data import write_sample_data
    write_sample_data(str(tmp_path / "parquet"), 500, seed=9, categories=["Camera"], chunk_rows=chunk_rows)
    write_sample_data(str(tmp_path / "tsv"), 500, seed=9, categories=["Camera"], fmt="amazon-tsv",
                      chunk_rows=chunk_rows, workers=2)
    run_import(rt, format="amazon-tsv", input_path=str(tmp_path / "tsv"), output_path=str(tmp_path / "t"))
    columns = ["review_id", "star_rating", "review_date", "review_headline"]
    assert sorted(table(spark, tmp_path / "parquet").select(columns).collect()) == \
        sorted(table(spark, tmp_path / "t").select(columns).collect())


# Bad input: one line, exit 2 (tests/test_entry_points.py checks the CLI form), nothing written.

def bad(rt, tmp_path, message, **values):
    out = tmp_path / "out"
    values.setdefault("output_path", str(out))
    with pytest.raises(ReviewcatError, match=message):
        run_import(rt, **values)
    assert not out.exists() and not leftovers(str(out))


def test_unknown_format_and_no_matching_files(rt, tmp_path):
    dump = dump_2023(tmp_path / "dump")
    bad(rt, tmp_path, "unknown --format 'amazon-2024': use one of amazon-2023, amazon-2018, amazon-tsv, table",
        format="amazon-2024", input_path=str(dump))
    bad(rt, tmp_path, r"no amazon-2018 files in .*: expected <Category>\[_5\]\[.<part>\].json.gz .* found Books.jsonl, Camera.01.jsonl.gz, Camera.jsonl.gz",
        format="amazon-2018", input_path=str(dump))
    bad(rt, tmp_path, "does not exist or names no file", format="amazon-2023", input_path=str(tmp_path / "nope"))
    bad(rt, tmp_path, "--format is required: one of amazon-2023", format=None, input_path=str(dump))  # as the CLI gives it


def test_a_file_of_another_format_fails_the_reject_check_naming_it(rt, tmp_path):
    write(tmp_path / "d" / "Books.jsonl", [tsv_row(i) for i in range(5)])
    write(tmp_path / "d" / "Camera.jsonl", [review_2023(i) for i in range(50)])
    bad(rt, tmp_path, r"5 of 55 records \(9.1%\) cannot be imported, above --max-rejected-fraction 0.01; worst file "
        r"Books.jsonl: 5 of 5 rejected, most for malformed record \(5\): check --format",
        format="amazon-2023", input_path=str(tmp_path / "d"))


def test_a_truncated_gzip_is_named(rt, tmp_path):
    write(tmp_path / "d" / "Books.jsonl.gz", [review_2023(i, text="words " * 50 + str(i)) for i in range(2000)], gz=True)
    data = (tmp_path / "d" / "Books.jsonl.gz").read_bytes()
    (tmp_path / "d" / "Books.jsonl.gz").write_bytes(data[: len(data) // 2])
    write(tmp_path / "d" / "Camera.jsonl.gz", [review_2023(i) for i in range(5)], gz=True)
    bad(rt, tmp_path, r"Books.jsonl.gz cannot be read to its end \(java.io.EOFException: Unexpected end of input "
        r"stream\): the file is truncated or damaged", format="amazon-2023", input_path=str(tmp_path / "d"))


def test_table_inputs_missing_columns_or_labels(rt, tmp_path):
    csv = str(ticket_csv(tmp_path / "d" / "tickets.csv"))
    bad(rt, tmp_path, r"no column body \(from --text-column; its columns: ticket_id, description, queue, priority\)",
        format="table", input_path=csv, id_column="ticket_id", text_column="description,body", label_column="queue")
    bad(rt, tmp_path, r"no column Stars \(from --rating-column",
        format="table", input_path=csv, id_column="ticket_id", text_column="description", rating_column="Stars")
    bad(rt, tmp_path, "--format table needs --text-column", format="table", input_path=csv, id_column="ticket_id")
    bad(rt, tmp_path, "--no-label and --label-column contradict", format="table", input_path=csv,
        id_column="ticket_id", text_column="description", label_column="queue", no_label=True)
    bad(rt, tmp_path, "--delimiter ';;': give one character", format="table", input_path=csv,
        id_column="ticket_id", text_column="description", delimiter=";;")
    bad(rt, tmp_path, "register a table partitioned by its labels", format="table", input_path=csv,
        id_column="ticket_id", text_column="description", database="d", table="t")
    write(tmp_path / "j" / "t.jsonl", [json.dumps({"id": 1, "text": "a", "stars": [5]})])
    bad(rt, tmp_path, r"--rating-column stars holds array<bigint>, not numbers", format="table",
        input_path=str(tmp_path / "j"), id_column="id", text_column="text", rating_column="stars")
    bad(rt, tmp_path, r"2 of 2 records .* most for rating not a number \(2\): check --rating-column",
        format="table", input_path=str(write_lines(tmp_path / "r" / "t.csv", ["id,text,stars", "1,a,good", "2,b,bad"])),
        id_column="id", text_column="text", rating_column="stars")
    bad(rt, tmp_path, "--id-column go with --format table", format="amazon-2023", input_path=csv, id_column="x")
    write(tmp_path / "e" / "t.csv", ["id,text,queue", "1,some text,", "2,more text,  "])
    bad(rt, tmp_path, "2 of 2 records .* most for empty label \\(2\\): check --label-column", format="table",
        input_path=str(tmp_path / "e"), id_column="id", text_column="text", label_column="queue",
        max_rejected_fraction=1.0)


def test_an_existing_output_that_is_not_an_import_is_never_replaced(rt, spark, tmp_path):
    dump = str(dump_2023(tmp_path / "dump") / "Camera*.jsonl.gz")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("someone's data")
    with pytest.raises(ReviewcatError, match="already exists: choose another --output-path or pass --overwrite"):
        run_import(rt, format="amazon-2023", input_path=dump, output_path=str(out))
    with pytest.raises(ReviewcatError, match="holds files reviewcat did not write .* remove the folder yourself"):
        run_import(rt, format="amazon-2023", input_path=dump, output_path=str(out), overwrite=True)
    assert (out / "keep.txt").read_text() == "someone's data" and not leftovers(str(out))
    (out / "keep.txt").unlink()  # an empty folder holds nothing to lose
    run_import(rt, format="amazon-2023", input_path=dump, output_path=str(out), overwrite=True)
    assert read_categories(spark, str(out)) == {"Camera": 10}


def test_catalog_registration_and_refresh_after_an_add(rt, spark, tmp_path):
    dump = dump_2023(tmp_path / "dump")
    out = str(tmp_path / "lake")
    first = run_import(rt, format="amazon-2023", input_path=str(dump / "Camera*.gz"), output_path=out,
                       database="importdb", table="reviews")
    assert first.table == "importdb.reviews"
    assert spark.table("importdb.reviews").count() == 10
    run_import(rt, format="amazon-2023", input_path=str(dump / "Books.jsonl"), output_path=out,
               database="importdb", table="reviews", max_rejected_fraction=0.5)
    counts = {r[0]: r[1] for r in spark.table("importdb.reviews").groupBy("product_category").count().collect()}
    assert counts == {"Books": 12, "Camera": 10}
    bad(rt, tmp_path, "table importdb.reviews already points at .*lake", format="amazon-2023",
        input_path=str(dump / "Camera*.gz"), database="importdb", table="reviews")


def test_counts_come_from_the_write_and_a_query_gives_the_same(rt, spark, tmp_path, monkeypatch):
    from reviewcat.tables import code_counts
    from reviewcat.ingest import record_counts
    lines = [TSV_HEADER] + [tsv_row(i, category=["Books", "Music", "Video"][i % 3]) for i in range(30)] + [
        tsv_row(30, rating="9"), "US\tshort"]
    write(tmp_path / "d" / "amazon_reviews_us_Mixed_v1_00.tsv", lines)

    def forbidden(*args):
        raise AssertionError("the observed counts should have been used")
    monkeypatch.setattr(record_counts, "by_query", forbidden)
    observed = run_import(rt, format="amazon-tsv", input_path=str(tmp_path / "d"), output_path=str(tmp_path / "a"),
                          max_rejected_fraction=0.1).summary
    (info,) = observed["files"].values()
    assert info["categories"] == {"Books": 10, "Music": 10, "Video": 10} == observed["categories"]
    assert info["rejected"] == {"rating not 1-5": 1, "wrong number of fields": 1}

    monkeypatch.undo()
    monkeypatch.setattr(code_counts, "from_metrics", lambda *args: None)  # as if they did not add up
    queried = run_import(rt, format="amazon-tsv", input_path=str(tmp_path / "d"), output_path=str(tmp_path / "b"),
                         max_rejected_fraction=0.1).summary
    assert queried == observed


def test_category_hashes_that_collide_are_refused():
    from reviewcat.ingest.dumps import OUTCOMES
    from reviewcat.tables.table_files import InputFile
    from reviewcat.ingest.record_counts import category_hash, from_metrics
    files = [InputFile("file:/a", "file:/a", "a", 1)]
    metrics = {"rows": 2, "histogram": json.dumps([{"x": category_hash("Books") * len(OUTCOMES), "y": 2.0}])}
    assert from_metrics(metrics, files, ["Books"])["file:/a"].categories == {"Books": 2}
    assert from_metrics(metrics, files, ["Music"]) is None  # a category that was not written
    seen: dict[int, str] = {}
    for i in range(1 << 21):  # more names than hashes: two of them must share one
        name = f"Category {i}"
        if category_hash(name) in seen:
            break
        seen[category_hash(name)] = name
    assert from_metrics(metrics, files, [seen[category_hash(name)], name]) is None
