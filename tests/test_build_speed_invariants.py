"""What the build's shortcuts must not change: the per-process memos of rows.py give what the
functions they memoise give, rows never share a mutable value, the Arrow columns assembled
from buffers hold what the rows hold (and refuse a value of the wrong type), the pinyin
reader's phrase-length table reads as trying every length would, the manifest's digests,
taken while the SQLite file is still being written, are those of the files, the SQLite file
written in stages (begun while the filings are derived) is the file written at once, a build
leaves what it made to the collector as old objects, a full-text index filled as one segment
holds what FTS5's merged segments hold, the tier indexes read from the rows' search text are
those segmented again, and the parse workers cache what the run would."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import io
import json
import multiprocessing
import os
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

from cac_filings import build, pinyin, summaries
from cac_filings.archive import RawArchive
from cac_filings.build.rows import ParsedFile, _company, _products, normalize_fields
from cac_filings.config import Settings
from cac_filings.kinds import Registry
from cac_filings.release import build_release
from cac_filings.schema import TABLES, Column, Table
from cac_filings.search import segment_text
from cac_filings.sources import Source, load_sources, registry_of
from cac_filings.store import arrow_table, fill_fts
from tests.test_build import algo_docx, crawl, douyin, entry
from tests.tinysite import BAIDU, KUAISHOU


@pytest.fixture(scope="module")
def sources() -> list[Source]:
    return load_sources()


def _kinds(sources: list[Source]) -> Registry:
    return registry_of(sources)


def _algorithm_cells(company: str, products: str, number: str) -> dict[str, str]:
    return {"serial": "1", "name": "抖音推荐算法", "category": "个性化推送类",
            "company": company, "products": products, "purpose": "应用于信息推荐场景。",
            "filing_number": number, "remarks": "", "role": "服务提供者"}


def _clear_memos() -> None:
    for memo in (_company, _products, pinyin.to_pinyin):
        memo.cache_clear()
    pinyin._READINGS.clear()


# ---------------------------------------------------------------- the memos of rows.py

COMPANIES = ["北京抖音信息服务有限公司", " 北京 抖音信息服务有限公司\u200b", "重庆银行股份有限公司",
             "腾讯科技(深圳)有限公司", "ByteDance Ltd.", ""]
PRODUCTS = ["抖音（APP）", "小红书（APP、网站）百度百科（APP、网站）", "--", "", "微信小程序等",
            "抖音（APP）"]


def test_memoised_rows_equal_rows_read_with_every_memo_empty(sources: list[Source]) -> None:
    spec = next(s.spec for s in sources if s.spec.name == "cn_cac_algorithm")
    kinds = _kinds(sources)
    cells = [_algorithm_cells(c, p, n) for c in COMPANIES for p in PRODUCTS
             for n in (DOUYIN_NUMBER, KUAISHOU, BAIDU)]
    fresh = []
    for one in cells:
        _clear_memos()
        fresh.append(normalize_fields(one, kinds["algorithm"], spec))
    _clear_memos()
    memoised = [normalize_fields(one, kinds["algorithm"], spec) for one in cells]
    assert memoised == fresh
    assert _products.cache_info().hits > 0 and _company.cache_info().hits > 0


DOUYIN_NUMBER = douyin()[6]


def test_rows_read_from_the_same_cells_share_no_mutable_value(sources: list[Source]) -> None:
    spec = next(s.spec for s in sources if s.spec.name == "cn_cac_algorithm")
    kind = _kinds(sources)["algorithm"]
    one = _algorithm_cells(COMPANIES[0], PRODUCTS[1], DOUYIN_NUMBER)
    first, second = (normalize_fields(dict(one), kind, spec) for _ in range(2))
    assert first["products"] == second["products"] and len(orjson.loads(first["products"])) == 4
    first["_flags"].append("changed")
    assert "changed" not in second["_flags"]
    assert [k for k, v in first.items() if isinstance(v, list | dict | set)] == ["_flags"]


# ---------------------------------------------------------------- Arrow from buffers

def _table(*columns: Column) -> Table:
    return Table(name="t", en="t", zh="t", columns=columns)


def _column(name: str, type_: Any, nullable: bool = True) -> Column:
    return Column(name, type_, name, name, nullable, True)


MIXED = _table(_column("text", "text"), _column("n", "int"), _column("ok", "bool"),
               _column("day", "date"), _column("doc", "json"),
               _column("key", "text", nullable=False))


def _json_reader_table(table: Table, rows: list[dict[str, Any]]) -> pa.Table:
    """The rows read the way the build read them before: JSON lines through Arrow's reader."""
    names = [c.name for c in table.columns]
    lines = b"\n".join(orjson.dumps({k: v for k, v in r.items() if k in names}) for r in rows)
    schema = pa.schema([pa.field(c.name, pa.string() if c.type == "date" else
                                 {"text": pa.string(), "json": pa.string(), "int": pa.int64(),
                                  "bool": pa.bool_()}[c.type]) for c in table.columns])
    parsed = pa_json.read_json(io.BytesIO(lines), parse_options=pa_json.ParseOptions(
        explicit_schema=schema, unexpected_field_behavior="ignore"))
    return parsed.cast(pa.schema([pa.field(c.name, pa.date32() if c.type == "date"
                                           else schema.field(c.name).type)
                                  for c in table.columns]))


ROWS: list[dict[str, Any]] = [
    {"text": "北京抖音", "n": 1, "ok": True, "day": "2024-01-31", "doc": "[]", "key": "a",
     "_private": object()},
    {"text": None, "n": None, "ok": None, "day": None, "doc": None, "key": ""},
    {"text": "", "n": -2**62, "ok": False, "day": "2000-02-29", "doc": '{"a":"é"}', "key": "c"},
    {"text": "a\nb\u200b😀", "n": 0, "ok": True, "day": "1970-01-01", "doc": "[1]", "key": "d"},
]


def test_arrow_columns_hold_what_the_json_reader_read() -> None:
    built = arrow_table(MIXED, ROWS)
    assert built.to_pylist() == _json_reader_table(MIXED, ROWS).to_pylist()
    assert built.column("day").type == pa.date32()
    assert built.to_pylist()[0]["day"] == dt.date(2024, 1, 31)
    # a date object (a row carried forward from a published release) is the same day
    again = arrow_table(MIXED, [dict(ROWS[0], day=dt.date(2024, 1, 31))])
    assert again.to_pylist()[0]["day"] == dt.date(2024, 1, 31)
    # a key a row lacks is null; every chunk is one array
    lacking = arrow_table(MIXED, [{"key": "x"}, ROWS[0]])
    assert lacking.to_pylist()[0] == {"text": None, "n": None, "ok": None, "day": None,
                                      "doc": None, "key": "x"}
    assert all(c.num_chunks == 1 for c in lacking.columns)


@pytest.mark.parametrize(("column", "value", "named"), [
    ("n", "1", "str"), ("n", True, "bool"), ("n", 1.0, "float"), ("ok", 1, "int"),
    ("text", 5, "int"), ("doc", b"[]", "bytes"), ("day", dt.datetime(2024, 1, 1), "datetime"),
])
def test_a_value_of_another_type_is_refused_naming_its_column(column: str, value: object,
                                                              named: str) -> None:
    with pytest.raises(TypeError, match=rf"t\.{column} .* holds {named} values"):
        arrow_table(MIXED, [dict(ROWS[0], **{column: value})])


def test_a_null_in_a_column_that_may_not_be_null_is_refused() -> None:
    with pytest.raises(ValueError, match=r"t\.key is null in 1 row"):
        arrow_table(MIXED, [dict(ROWS[0], key=None)])


def test_every_release_table_converts_like_the_json_reader(sources: list[Source],
                                                           tmp_path: Path) -> None:
    settings_ = Settings(data_dir=tmp_path / "data")
    archive = RawArchive(settings_.raw_dir)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(douyin(), (
        "2", "快手推荐算法", "个性化推送类", "北京快手科技有限公司", "快手（APP、网站）",
        "应用于信息推荐场景。", KUAISHOU, "")), "2023-07-01T10:00:00Z")])
    result, release = build_release(settings_, sources)
    for table in TABLES:
        rows = result.tables[table.name]
        if rows:
            assert arrow_table(table, rows).to_pylist() == \
                _json_reader_table(table, rows).to_pylist(), table.name
    # The manifest's digests (of the Parquet files taken while the SQLite file was still
    # being written, of that file once it was done) are the files'.
    files = json.loads((release.path / "manifest.json").read_text())["files"]
    assert "cac_filings.db" in files and "filings.parquet" in files
    for name, digest in files.items():
        assert hashlib.sha256((release.path / name).read_bytes()).hexdigest() == digest, name


def test_every_file_and_folder_of_a_release_is_made_durable_once_complete(
        sources: list[Source], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The files written while the SQLite file is being written are fsync'ed meanwhile;
    that file by its last stage (what the stages before it wrote, early), the manifest and
    the folders once they are complete: each once at its final size, the SQLite file last
    at its final size."""
    settings_ = Settings(data_dir=tmp_path / "data")
    archive = RawArchive(settings_.raw_dir)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(douyin()),
                                         "2023-07-01T10:00:00Z")])
    log = tmp_path / "fsyncs.jsonl"  # appended to by the SQLite stages' processes too
    real = os.fsync

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        size = os.fstat(fd).st_size
        real(fd)
        with log.open("a") as fh:
            fh.write(json.dumps([path, size]) + "\n")

    monkeypatch.setattr(os, "fsync", fsync)
    _, release = build_release(settings_, sources, publish=False)
    tmp = release.path.parent / f".tmp-{release.path.name}"
    synced = [tuple(json.loads(line)) for line in log.read_text().splitlines()]
    ours = [(Path(p).relative_to(tmp).as_posix() if p != str(tmp) else ".", size)
            for p, size in synced if p == str(tmp) or p.startswith(f"{tmp}/")]
    last = dict(ours)
    wanted = {p.relative_to(release.path).as_posix() for p in release.path.rglob("*")} | {"."}
    assert set(last) == wanted
    db = "cac_filings.db"
    assert sorted(name for name, _ in ours if name != db) == sorted(wanted - {db})
    assert [name for name, _ in ours].count(db) == 2  # what the stages before wrote, early
    for name, size in last.items():
        path = release.path / name
        if path.is_file():
            assert size == path.stat().st_size, name


def test_a_build_leaves_what_it_made_to_the_collector_as_old_objects(
        sources: list[Source], tmp_path: Path) -> None:
    """The collector is paused during a build and on again after it, nothing left frozen;
    what the build made is in the oldest generation, not in the youngest to be rescanned (all
    of it) at the next allocation. A build started with the collector off leaves it off, and
    objects frozen before a build stay frozen."""
    settings_ = Settings(data_dir=tmp_path / "data")
    archive = RawArchive(settings_.raw_dir)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(douyin()),
                                         "2023-07-01T10:00:00Z")])
    assert gc.isenabled()
    gc.collect()  # counters at zero: the first collection after a build would be a young one
    result, _ = build_release(settings_, sources, publish=False)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    made = [result.tables, result.tables["listings"], result.tables["listings"][0]["_flags"]]
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert all(id(o) in oldest for o in made)
    gc.disable()
    try:
        build_release(settings_, sources, publish=False)
        assert not gc.isenabled()
    finally:
        gc.enable()
    # What a server froze (serve.py) stays frozen through a build.
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        build_release(settings_, sources, publish=False)
        assert gc.isenabled() and gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def _database_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a SQLite file (full-text shadow tables and summaries included) and its
    rows with their rowids (sorted, for a table without), and the statements that made it."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE "
            "'CREATE VIRTUAL TABLE%' ORDER BY name")]
        found: dict[str, list[tuple[Any, ...]]] = {}
        for name in names:
            try:
                found[name] = list(conn.execute(f'SELECT rowid, * FROM "{name}" ORDER BY 1'))
            except sqlite3.OperationalError:  # WITHOUT ROWID
                found[name] = sorted(conn.execute(f'SELECT * FROM "{name}"'), key=repr)
        found["(schema)"] = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM "
                                                "sqlite_master"))
        # Written through apsw's SQLite, whole as the standard library's reads it.
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for (fts,) in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE "
                                   "'CREATE VIRTUAL TABLE%fts5%'").fetchall():
            conn.execute(f"INSERT INTO \"{fts}\" (\"{fts}\") VALUES ('integrity-check')")
        return found
    finally:
        conn.close()


def test_the_sqlite_file_written_in_stages_is_the_file_written_at_once(
        sources: list[Source], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The release's SQLite file is begun with the batches and listings while the filings
    are derived, the filings follow while the rest is derived, every other table last; it
    holds what writing every table at once gives."""
    from cac_filings import release as release_module

    settings_ = Settings(data_dir=tmp_path / "data")
    archive = RawArchive(settings_.raw_dir)
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(douyin()),
                                         "2023-07-01T10:00:00Z")])
    events: list[str] = []
    real_write = release_module.DatabaseWriter.write
    real_derive = build.derive.derive_filings

    def write(self: Any, tables: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        events.append("stage " + ",".join(t.name for t in TABLES if t.name in tables
                                          and t.name not in self.written))
        real_write(self, tables, *args, **kwargs)

    def derive(*args: Any, **kwargs: Any) -> Any:
        events.append("derive")
        return real_derive(*args, **kwargs)

    monkeypatch.setattr(release_module.DatabaseWriter, "write", write)
    monkeypatch.setattr(build, "derive_filings", derive)
    result, release = build_release(settings_, sources, publish=False)
    assert events == ["stage batches,listings", "derive", "stage filings",
                      "stage " + ",".join(t.name for t in TABLES[3:])]
    assert [t.name for t in TABLES[:3]] == ["batches", "listings", "filings"]
    at_once = tmp_path / "at-once.db"
    release_module.write_database(result.tables, at_once)
    staged = _database_rows(release.path / "cac_filings.db")
    once = _database_rows(at_once)
    assert staged == once  # tables created in the same order, their counts listed so
    assert {"listings", "filings", "changes", "filings_fts_data", "summary_facet_counts"} \
        <= set(staged)
    assert all(staged[t] for t in ("listings", "filings", "changes", "filings_fts_data"))


def test_a_date_is_stored_as_its_iso_text_as_sqlite3_stored_it(tmp_path: Path) -> None:
    from cac_filings.store import open_database

    conn = open_database(tmp_path / "dates.db")
    try:
        conn.execute("CREATE TABLE t (day, moment)")
        conn.execute("INSERT INTO t VALUES (?, ?)", (dt.date(2024, 8, 12),
                                                    dt.datetime(2024, 8, 12, 9, 30)))
        assert conn.execute("SELECT day, moment, typeof(day) FROM t").fetchall() == [
            ("2024-08-12", "2024-08-12 09:30:00", "text")]
        with pytest.raises(TypeError, match="cannot store a set"):
            conn.execute("INSERT INTO t VALUES (?, ?)", ({1}, None))
    finally:
        conn.close()


# ---------------------------------------------------------------- pinyin

def _reference_syllables(text: str) -> list[str]:
    """The longest phrase of at most six characters at each character, trying every length
    (what the phrase-length table shortens), else the character's first reading."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ord(ch) not in PINYIN_DICT:
            j = i + 1
            while j < len(text) and ord(text[j]) not in PINYIN_DICT:
                j += 1
            chunk = "".join(c for c in text[i:j] if c.isalnum())
            if chunk:
                out.append(chunk)
            i = j
            continue
        for length in range(min(6, len(text) - i), 1, -1):
            phrase = PHRASES_DICT.get(text[i:i + length])
            if phrase is not None:
                out.extend(r[0] for r in phrase)
                i += length
                break
        else:
            out.append(PINYIN_DICT[ord(ch)].split(",", 1)[0])
            i += 1
    return out


def _reference_pinyin(text: str) -> str:
    return " ".join(s.translate(pinyin._TONES).lower() for s in _reference_syllables(text))


PHRASE_CHARS = "".join(sorted({c for p in list(PHRASES_DICT)[:3000] for c in p}))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=PHRASE_CHARS + "有限公司科技重庆银行AbΣ1 -（）", max_size=16))
def test_pinyin_reads_as_trying_every_phrase_length(text: str) -> None:
    pinyin.to_pinyin.cache_clear()
    assert pinyin.to_pinyin(text) == _reference_pinyin(text)


def test_pinyin_of_every_phrase_and_of_phrases_run_together_is_the_reference() -> None:
    """Phrases looked up by their first two characters: every seventh phrase pypinyin
    knows, and runs of three (where one phrase's end may begin another), read as trying
    every length does."""
    phrases = [p for p in PHRASES_DICT if 2 <= len(p) <= 6]
    texts = phrases[::7] + ["".join(phrases[i:i + 3]) + "A1" for i in range(0, len(phrases), 11)]
    pinyin.to_pinyin.cache_clear()
    wrong = [t for t in texts if pinyin.to_pinyin(t) != _reference_pinyin(t)]
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("text", [*COMPANIES, "长城汽车股份有限公司", "中国银行", "ÜBER有限公司"])
def test_pinyin_of_known_names_is_the_reference(text: str) -> None:
    _clear_memos()
    assert pinyin.to_pinyin(text) == _reference_pinyin(text)
    assert pinyin.to_pinyin(text) == _reference_pinyin(text)  # read from the memo


# ---------------------------------------------------------------- the SQLite child

def _instances(conn: sqlite3.Connection, fts: str) -> list[tuple[Any, ...]]:
    """Every token of a full-text index where it stands (row, column, offset): what any
    query of it can find."""
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.v_{fts} USING fts5vocab(main, {fts}, "
                 "instance)")
    return list(conn.execute(f"SELECT term, doc, col, offset FROM temp.v_{fts} "
                             "ORDER BY 1, 2, 3, 4"))


def _texts(n: int) -> list[tuple[int, str | None, str | None]]:
    words = ["抖音", "推荐", "算法", "北京", "科技", "有限公司", "ChatGLM", "wenxin", "1101088",
             "(APP)", "é", "大模型", "服务"]
    return [(i, segment_text("".join(words[(i * k) % len(words)] for k in range(1, 8))),
             None if i % 7 == 0 else segment_text(words[i % len(words)] + str(i)))
            for i in range(1, n + 1)]


def test_a_full_text_index_filled_in_one_segment_holds_what_merged_segments_hold() -> None:
    rows = _texts(3000)
    merged = sqlite3.connect(":memory:")
    merged.execute("CREATE VIRTUAL TABLE t USING fts5(a, b, tokenize = 'unicode61 "
                   "remove_diacritics 2', content = '')")
    # FTS5's own way, with its pending terms written out every few kB: many segments,
    # merged into one by 'optimize'.
    merged.execute("INSERT INTO t (t, rank) VALUES ('hashsize', 4096)")
    merged.executemany("INSERT INTO t (rowid, a, b) VALUES (?, ?, ?)", rows)
    assert merged.execute("SELECT count(*) FROM t_data").fetchone()[0] > 20
    merged.execute("INSERT INTO t (t) VALUES ('optimize')")
    merged.execute("DELETE FROM t_config WHERE k = 'hashsize'")
    one = sqlite3.connect(":memory:")
    one.execute("CREATE VIRTUAL TABLE t USING fts5(a, b, tokenize = 'unicode61 "
                "remove_diacritics 2', content = '')")
    fill_fts(one, "t", ("a", "b"), rows)
    assert _instances(one, "t") == _instances(merged, "t") and len(_instances(one, "t")) > 9000
    for query in ('"抖 音"', '"chatglm" *', "{b} : 1101088*", '"e"', '"北 京" AND "服 务"'):
        found = "SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid"
        assert list(one.execute(found, [query])) == list(merged.execute(found, [query])), query
    assert list(one.execute("SELECT * FROM t_docsize ORDER BY id")) == list(
        merged.execute("SELECT * FROM t_docsize ORDER BY id"))
    # The file keeps FTS5's defaults, and the index is whole.
    assert list(one.execute("SELECT k, v FROM t_config")) == [("version", 4)]
    one.execute("INSERT INTO t (t) VALUES ('integrity-check')")


def test_the_tier_indexes_from_the_rows_search_text_are_those_segmented_again(
        sources: list[Source]) -> None:
    spec = next(s.spec for s in sources if s.spec.name == "cn_cac_algorithm")
    kind = _kinds(sources)["algorithm"]
    filings = [normalize_fields(dict(_algorithm_cells(company, "抖音（APP）", DOUYIN_NUMBER),
                                     name=name), kind, spec)
               for company in COMPANIES for name in ("抖音推荐算法", "ChatGLM 大模型", "", "é-1")]
    indexes = []
    for rows in (filings, [{k: v for k, v in r.items() if k != "_fts"} for r in filings]):
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE filings (name TEXT, company TEXT)")
        conn.executemany("INSERT INTO filings (rowid, name, company) VALUES (?, ?, ?)",
                         [(i, r["name"], r["company"]) for i, r in enumerate(filings, start=1)])
        summaries._write_tier_fts(conn, rows)
        indexes.append([_instances(conn, t) for t in summaries.TIER_FTS.values()])
    assert indexes[0] == indexes[1] and all(indexes[0])


def test_the_companies_search_text_from_their_filings_is_that_segmented_again(
        sources: list[Source], tmp_path: Path) -> None:
    """A company's companies_fts text reuses its filings' segmented company name: the same as
    segmenting the row's own columns (search.fts_texts)."""
    from cac_filings.schema import COMPANIES
    from cac_filings.search import fts_texts

    settings_ = Settings(data_dir=tmp_path / "data")
    archive = RawArchive(settings_.raw_dir)
    rows = [douyin(), ("2", "快手推荐算法", "个性化推送类", "北京快手科技有限公司（ＡＢＣ）",
                       "快手（APP、网站）", "应用于信息推荐场景。", KUAISHOU,
                       "原主体名称“北京快手科技公司”变更为“北京快手科技有限公司（ＡＢＣ）”"),
            ("3", "算法", "个性化推送类", "𠀀𠀁数据有限公司", "网站", "用于推荐。", BAIDU, "")]
    crawl(archive, "20230701T10", [entry(archive, "2022-08", algo_docx(*rows),
                                         "2023-07-01T10:00:00Z")])
    result = build.build_tables(archive, sources, workers=1)
    companies = result.tables["companies"]
    assert len(companies) == 3 and all(row["_fts"][0] for row in companies)
    assert any(row["former_names"] != "[]" for row in companies)
    for row in companies:
        assert row["_fts"] == fts_texts(COMPANIES, {k: v for k, v in row.items()
                                                    if k != "_fts"}), row["company"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_ascii_text_is_segmented_as_it_is(text: str) -> None:
    """segment_text returns ASCII text as it is: what splitting it into runs gives."""
    from cac_filings import search

    assert search.segment_text(text) == (
        " ".join(search._SEGMENT_RE.findall(search._narrow(text))) if text else text)


# ---------------------------------------------------------------- the parse cache

def test_the_readers_are_loaded_before_the_parse_workers_are_forked() -> None:
    # Else each worker loads pdfium's bindings (55 ms) on its first PDF.
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, cac_filings.build; print(sorted({'pypdfium2', "
         "'python_calamine', 'cac_filings.docx_tables'} & set(sys.modules)))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "['cac_filings.docx_tables', 'pypdfium2', 'python_calamine']"


def test_the_workers_are_given_the_longest_files_to_read_first(
        sources: list[Source], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cac_filings.build.select import BatchVersion, SelectedBatch, Selection

    given: list[list[int]] = []

    def run_tasks(tasks: list[Any], sizes: list[int], *args: Any) -> list[Any]:
        given.append(sizes)
        return ["unread"] * len(tasks)

    monkeypatch.setattr(build, "_run_tasks", run_tasks)
    versions = [BatchVersion("b", 1, "a" * 64, "docx", 1000, "x", {}),
                BatchVersion("b", 2, "b" * 64, "pdf", 200, "x", {})]
    selection = Selection([SelectedBatch({"batch_id": "b", "source": "cn_cac_algorithm"},
                                         versions, None)],
                          {})
    spec = next(s.spec for s in sources if s.spec.name == "cn_cac_algorithm")
    build.parse_versions(selection, {"cn_cac_algorithm": spec}, _kinds(sources),
                         RawArchive(tmp_path), build.ParseCache(None, "f"), 2)
    assert given == [[1000, 200 * build.PARSE_COST["pdf"]]]


def test_parse_workers_write_the_cache_entries_of_the_files_read(sources: list[Source],
                                                                 tmp_path: Path) -> None:
    archive = RawArchive(tmp_path / "raw")
    spec = next(s.spec for s in sources if s.spec.name == "cn_cac_algorithm")
    kinds = _kinds(sources)
    bodies = [algo_docx(douyin()), algo_docx(douyin(number=KUAISHOU)), b"PK not a Word file",
              algo_docx(douyin(number=BAIDU))]
    shas = [archive.put(body) for body in bodies]
    archive.object_path(shas[3]).write_bytes(b"changed on disk")  # a corrupt object
    tasks: list[build.ParseTask] = [("cn_cac_algorithm", sha, f"file {n}", spec, kinds,
                                     str(archive.root)) for n, sha in enumerate(shas)]
    cache = build.ParseCache(tmp_path / "cache", "f" * 16)
    results = build._run_tasks(tasks, [len(b) for b in bodies], 2, cache)
    assert results == [build._parse(task) for task in tasks]  # as read in this process
    assert isinstance(results[0], ParsedFile) and isinstance(results[1], ParsedFile)
    assert isinstance(results[2], str) and isinstance(results[3], str)
    assert results[3].startswith("archive: ")
    # The files' own results are cached (an unreadable file too); a corrupt object is not.
    assert [cache.get("cn_cac_algorithm", sha) for sha in shas] == [*results[:3], None]
    assert not multiprocessing.active_children()
