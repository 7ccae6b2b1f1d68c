import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.schema import RUN_FILE
from reviewcat.synthetic.sample_data import (SCHEMA, category_sizes, generate_category, numbered_categories,
                                             real_category_counts, write_sample_data)


def test_sizes_follow_the_real_proportions_with_a_floor():
    real = real_category_counts()
    assert len(real) == 43
    sizes = category_sizes(1_000_000)
    assert sum(sizes.values()) == 1_000_000
    real_ratio = max(real.values()) / min(real.values())
    assert real_ratio == pytest.approx(227, abs=1)
    assert max(sizes.values()) / min(sizes.values()) == pytest.approx(real_ratio, rel=0.02)
    small = category_sizes(2000)
    assert min(small.values()) == 20 and sum(small.values()) == 2000
    tight = category_sizes(1000)  # the floor alone takes 860 of them
    assert min(tight.values()) == 20 and sum(tight.values()) == 1000


def test_too_few_rows_or_unknown_categories_are_errors():
    with pytest.raises(ReviewcatError, match="too few for 43 categories: use at least 860"):
        category_sizes(100)
    with pytest.raises(ReviewcatError, match="unknown categories: Nope"):
        category_sizes(1000, ["Books", "Nope"])


def test_numbered_copies_extend_the_real_categories_with_their_shares():
    real = list(real_category_counts())
    assert numbered_categories(10) == real[:10]
    names = numbered_categories(200)
    assert len(set(names)) == 200 and names[43] == "Books_2" and names[-1] == f"{real[199 - 172]}_5"
    sizes = category_sizes(400_000, names)
    assert sum(sizes.values()) == 400_000
    assert sizes["Books_2"] == pytest.approx(sizes["Books_3"], rel=0.01)
    for bad in ("Books_1", "Books_x", "Nope_2"):
        with pytest.raises(ReviewcatError, match=f"unknown categories: {bad}"):
            category_sizes(1000, ["Books", bad])


def test_copies_get_their_own_reviews(tmp_path):
    write_sample_data(str(tmp_path / "t"), 400, seed=1, categories=["Books", "Books_2"])
    ids = {c: set(pq.read_table(tmp_path / "t" / f"product_category={c}").column("review_id").to_pylist())
              for c in ("Books", "Books_2")}
    assert len(ids["Books"]) > 150 and not ids["Books"] & ids["Books_2"]


def test_generation_is_deterministic_by_seed():
    assert generate_category("Books", 500, 1, 0).equals(generate_category("Books", 500, 1, 0))
    assert not generate_category("Books", 500, 1, 0).equals(generate_category("Books", 500, 2, 0))


def test_text_has_the_real_quirks():
    bodies = generate_category("Kitchen", 20_000, 3, 10).column("review_body").to_pylist()
    present = [b for b in bodies if b is not None]
    assert bodies.count(None) > 20 and present.count("") > 20
    assert any("<br />" in b for b in present)
    assert any("&amp;" in b or "&quot;" in b for b in present)
    assert any("\t" in b for b in present) and any("\n" in b for b in present)
    assert any(not b.isascii() for b in present)
    assert any(len(b) > 3000 for b in present)
    assert any(b in ("Great!", "ok", "A+") for b in present)
    assert len(set(present)) < len(present)  # repeated texts
    ids = generate_category("Kitchen", 20_000, 3, 10).column("review_id").to_pylist()
    assert len(set(ids)) < len(ids)  # whole rows posted twice
    assert all(len(i) == 14 and i.startswith("R") for i in ids)


def test_written_layout_matches_the_public_table(tmp_path):
    out = tmp_path / "reviews"
    sizes = write_sample_data(str(out), 3000, seed=5, categories=["Books", "Gift_Card", "Health_&_Personal_Care"])
    folders = sorted(p.name for p in out.iterdir() if p.name != RUN_FILE)
    assert folders == ["product_category=Books", "product_category=Gift_Card",
                       "product_category=Health_&_Personal_Care"]
    for folder in out.glob("product_category=*"):
        assert len(list(folder.glob("*.parquet"))) >= 2
    table = ds.dataset(str(out), partitioning="hive").to_table()
    assert table.num_rows == sum(sizes.values()) == 3000
    file_schema = pq.read_schema(next(out.glob("product_category=Books/*.parquet")))
    assert file_schema.remove_metadata().equals(SCHEMA)
    assert not list(tmp_path.glob("*__tmp*"))


def test_existing_output_needs_overwrite_and_s3_is_refused(tmp_path):
    out = tmp_path / "reviews"
    write_sample_data(str(out), 100, categories=["Books"])
    with pytest.raises(ReviewcatError, match="already exists: choose another --output-path or pass --overwrite"):
        write_sample_data(str(out), 100, categories=["Books"])
    write_sample_data(str(out), 200, categories=["Books"], overwrite=True)
    assert ds.dataset(str(out), partitioning="hive").count_rows() == 200
    with pytest.raises(ReviewcatError, match="local folders only"):
        write_sample_data("s3://bucket/reviews", 100)


def test_generated_tickets_are_an_export_as_helpdesks_write_it(tmp_path):
    import csv
    from reviewcat import cli
    from reviewcat.synthetic.sample_tickets import QUEUES
    assert cli.main(["sample-data", "--format", "tickets", "--rows", "300", "--output-path", str(tmp_path / "a")]) == 0
    raw = (tmp_path / "a" / "tickets.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfTicket ID;Subject;Body;Queue;Rating;Channel\r\n")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines(keepends=True), delimiter=";"))
    assert len(rows) == 300 and {r["Queue"] for r in rows} == set(QUEUES)
    assert any("\n" in r["Body"] for r in rows) and {r["Rating"] for r in rows} <= {"", "1", "2", "3", "4", "5"}
    assert cli.main(["sample-data", "--format", "tickets", "--rows", "300", "--output-path", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "tickets.csv").read_bytes() == raw  # the same seed, the same file
    assert cli.main(["sample-data", "--format", "tickets", "--no-label", "--rows", "5", "--seed", "7",
                     "--output-path", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "tickets.csv").read_bytes().startswith(
        b"\xef\xbb\xbfTicket ID;Subject;Body;Rating;Channel\r\n")
    assert cli.main(["sample-data", "--no-label", "--rows", "300", "--output-path", str(tmp_path / "c")]) == 2
    assert not (tmp_path / "c").exists()


def test_a_2023_dump_has_the_2023_datasets_categories_in_their_proportions(tmp_path):
    from reviewcat.synthetic.sample_data import category_catalog, release_of, write_sample_data
    catalog = category_catalog("2023")
    assert len(catalog) == 34 and "Unknown" in catalog and "Subscription_Boxes" in catalog
    assert sum(real_category_counts("2023").values()) == pytest.approx(571.54e6, rel=1e-3)  # the dataset card's total
    assert {words for _, words in catalog.values()} <= set(real_category_counts())  # written with known words
    assert release_of("amazon-2023") == "2023" and release_of("amazon-2018") == "pds"
    sizes = write_sample_data(str(tmp_path / "d"), 20_000, fmt="amazon-2023")
    assert list(sizes) == list(catalog) and sizes["Home_and_Kitchen"] > sizes["Books"] > sizes["Video_Games"]
    assert sorted(p.name for p in (tmp_path / "d").iterdir() if not p.name.startswith("_")) == sorted(
        f"{c}.jsonl.gz" for c in catalog)
    with pytest.raises(ReviewcatError, match="unknown categories: Camera .known: Home_and_Kitchen"):
        write_sample_data(str(tmp_path / "e"), 1000, categories=["Camera"], fmt="amazon-2023")
    assert numbered_categories(36, "2023")[-2:] == ["Home_and_Kitchen_2", "Clothing_Shoes_and_Jewelry_2"]


def _content(folder):
    """What a generated table or dump holds, file by file: rows, not bytes (a parquet file names the
    pyarrow that wrote it)."""
    import gzip
    import hashlib
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != RUN_FILE):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(repr(pq.read_table(path).to_pylist()).encode() if path.suffix == ".parquet"
                      else gzip.decompress(path.read_bytes()))
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("fmt,expected", [("parquet", "b515462286d65975"), ("amazon-tsv", "a686de5d16f3fb28")])
def test_a_table_of_whole_categories_is_what_earlier_releases_wrote(tmp_path, fmt, expected):
    """Chunked generation left tables whose categories fit one piece as they were: the same seed
    gives the data earlier results (and users' saved tables) were measured on."""
    write_sample_data(str(tmp_path / "t"), 3000, seed=5, categories=["Books", "Gift_Card", "Health_&_Personal_Care"],
                      fmt=fmt)
    assert _content(tmp_path / "t") == expected


@pytest.mark.parametrize("fmt", ["parquet", "amazon-2018"])
def test_a_large_category_is_written_in_chunks_the_same_on_any_number_of_workers(tmp_path, fmt):
    from reviewcat.synthetic.sample_data import plan_pieces
    categories = ["Books", "Gift_Card"]
    sizes = category_sizes(2000, categories)
    pieces = plan_pieces(sizes, chunk_rows=400)
    assert sizes == {"Books": 1980, "Gift_Card": 20}
    assert [(p.category, p.rows, p.chunk) for p in pieces] == [("Books", 396, chunk) for chunk in range(5)] + [
        ("Gift_Card", 20, None)]
    one = write_sample_data(str(tmp_path / "one"), 2000, seed=3, categories=categories, fmt=fmt, workers=1,
                            chunk_rows=400)
    two = write_sample_data(str(tmp_path / "two"), 2000, seed=3, categories=categories, fmt=fmt, workers=2,
                            chunk_rows=400)
    assert one == two == sizes and _content(tmp_path / "one") == _content(tmp_path / "two")
    whole = write_sample_data(str(tmp_path / "whole"), 2000, seed=3, categories=categories, fmt=fmt)
    if fmt == "parquet":
        chunks = sorted(p.name for p in (tmp_path / "two" / "product_category=Books").iterdir())
        assert chunks == [f"part-{i:05d}.snappy.parquet" for i in range(len(chunks))] and len(chunks) > 2
        counts = {c: ds.dataset(str(tmp_path / name / f"product_category={c}")).count_rows()
                  for name in ("two", "whole") for c in categories}
        assert counts == whole
        # Gift_Card fits one piece: the same reviews as a table generated whole; Books' chunks are new draws.
        read = {name: {c: pq.read_table(tmp_path / name / f"product_category={c}") for c in categories}
                for name in ("two", "whole")}
        assert read["two"]["Gift_Card"].equals(read["whole"]["Gift_Card"])
        assert read["two"]["Books"].num_rows == read["whole"]["Books"].num_rows
        assert not read["two"]["Books"].equals(read["whole"]["Books"])
        assert len(set(read["two"]["Books"].column("review_id").to_pylist())) > 0.95 * sizes["Books"]
    else:  # one file per category, its chunks as gzip members: readable whole, no chunk left beside it
        import gzip
        assert sorted(p.name for p in (tmp_path / "two").iterdir() if p.name != RUN_FILE) == [
            "Books.json.gz", "Gift_Card.json.gz"]
        packed = (tmp_path / "two" / "Books.json.gz").read_bytes()
        assert len(gzip.decompress(packed).splitlines()) == sizes["Books"]
        assert packed[3] & 8 and packed[10:packed.index(b"\0", 10)] == b"Books.json"  # what gzip -N restores


def test_workers_go_with_generated_reviews(tmp_path, capsys):
    from reviewcat import cli
    assert cli.main(["sample-data", "--format", "tickets", "--workers", "2", "--rows", "10",
                     "--output-path", str(tmp_path / "t")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "reviewcat sample-data: error: --workers goes with generated reviews: tickets are written by one process")
    assert not (tmp_path / "t").exists()
