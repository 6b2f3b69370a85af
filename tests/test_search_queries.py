"""Search box text → FTS5: every query shape runs against a table built like the project's
*_fts tables and finds exactly the rows meant; any text at all gives valid FTS5, quickly."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypinyin.constants import PHRASES_DICT

from cac_filings.pinyin import (
    _LONGEST_SYLLABLE,
    SYLLABLES,
    read_pinyin,
    split_pinyin,
    to_pinyin,
)
from cac_filings.search import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    NO_MATCH,
    SearchQuery,
    fts_query,
    highlight,
    parse_search,
    segment_text,
    suggest_shorter,
)

# name, company, products, purpose, filing_number; pinyin is the company's (to_pinyin).
ROWS = [
    ("抖音推荐算法", "北京抖音信息服务有限公司", "抖音",
     "应用于信息推荐场景，根据用户兴趣推荐短视频", "网信算备110108823483901230031号"),
    ("百度搜索算法", "北京百度网讯科技有限公司", "百度App、百度搜索", "应用于网页检索场景",
     "网信算备110108516277701220011号"),
    ("文心一言", "北京百度网讯科技有限公司", "文心一言App",
     "生成式人工智能服务，提供文本生成与对话", "Beijing-WenXinYiYan-20230821"),
    ("百度地图路线规划算法", "北京百度网讯科技有限公司", "百度地图", "应用于出行路线规划",
     "网信算备110108516277702230019号"),
    ("豆包", "北京字节跳动科技有限公司", "豆包App", "生成式人工智能对话服务",
     "Beijing-YunQue-20230821"),
    ("ChatGLM大模型", "北京智谱华章科技有限公司", "智谱清言", "AI 对话助手",
     "网信算备110108105858001230019号"),
    ("小红书推荐算法", "行吟信息科技（上海）有限公司", "小红书", "笔记内容推荐",
     "网信算备310101000000001220011号"),
    ("小艺语音助手算法", "西安华为技术有限公司", "小艺", "语音交互",
     "网信算备610113000000001240011号"),
    ("爱奇艺视频推荐算法", "北京爱奇艺科技有限公司", "爱奇艺", "视频内容推荐",
     "网信算备110108000000001220023号"),
    ("点点搜索", "行吟信息科技（上海）有限公司", "点点", "生成式人工智能搜索",
     "Shanghai-DianDian-202404280001"),
    ("抖音电商推荐算法", "上海格物致品网络科技有限公司", "抖音商城（Douyin Mall）", "商品推荐",
     "网信算备310115000000001230045号"),
    ("快手短视频推荐算法", "北京快手科技有限公司", "快手", "短视频推荐",
     "网信算备110108000000001220031号"),
]
BAIDU = [2, 3, 4]
DOUYIN = [1, 11]
ALL = list(range(1, len(ROWS) + 1))


def _connect() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE VIRTUAL TABLE t USING fts5(name, company, products, purpose, "
               "filing_number, pinyin, tokenize = 'unicode61 remove_diacritics 2', "
               "content = '')")
    db.executemany(
        "INSERT INTO t (rowid, name, company, products, purpose, filing_number, pinyin) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(i, *(segment_text(v) for v in row), to_pinyin(row[1]))
         for i, row in enumerate(ROWS, 1)])
    # As the Datasette plugin does: table search runs MATCH escape_fts(:search).
    db.create_function("escape_fts", 1, fts_query, deterministic=True)
    return db


@cache
def _shared() -> sqlite3.Connection:
    return _connect()


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    connection = _connect()
    yield connection
    connection.close()


def _rows(db: sqlite3.Connection, match: str) -> list[int]:
    return [r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid",
                                     (match,))]


PUNCTUATION = '"*()^-+:{}[],.;!?、，。（）：“”\x00\u202e\u202c 😀'
JUNK = PUNCTUATION + "NEAR AND OR NOT name: ^ 抖音"  # words here are words: they must match


@pytest.mark.parametrize(("query", "rowids"), [
    # single Chinese, one character or several, anywhere in a column
    ("百度", BAIDU),
    ("抖音", DOUYIN),
    ("音", [1, 8, 11]),  # 抖音 and 语音
    ("北京字节跳动", [5]),
    ("音抖", []),
    # single pinyin: the company's pinyin; mixed case, tone marks and numbers
    ("baidu", BAIDU),
    ("BaiDu", BAIDU),
    ("bǎidù", BAIDU),
    ("bai3du4", BAIDU),
    ("zijietiaodong", [5]),
    ("huawei", [8]),
    ("xi'an", [8]),
    # pinyin and English/brand at once: Douyin in products (11), dou yin in pinyin (1)
    ("douyin", DOUYIN),
    ("ai", [6, 9]),  # AI in a purpose (6), 爱 ai in 爱奇艺's pinyin (9)
    ("chat", [6]),  # not pinyin: a prefix of ChatGLM
    ("xian", ALL),  # a syllable of you xian (有限) in every company's pinyin
    ("nü", []),
    ("lv", []),
    # several terms: every one must match
    ("baidu wenxin", [3]),
    ("BAIDU WENXIN", [3]),
    ("baidu 搜索", [2]),
    ("抖音 baidu", []),
    ("baidu 2023", [3]),
    ("beijing 20230821", [3, 5]),
    ("bai du", BAIDU),
    ("字节 抖音", []),
    ("百度 地图", [4]),
    ("百度，文心", [3]),
    ("抖音、推荐", DOUYIN),
    # numbers: prefixes, whole numbers, generative-AI numbers
    ("110108", [1, 2, 4, 6, 9, 12]),
    ("1101085162777", [2, 4]),
    ("网信算备110108823483901230031号", [1]),
    ("网信算备110108823483901230031", [1]),
    ("20230821", [3, 5]),
    ("Beijing-WenXinYiYan-20230821", [3]),
    ("beijing-wenxinyiyan", [3]),
    ("202404280001", [10]),
    ("ChatGLM大模型", [6]),
    ("CHATGLM", [6]),
    # quotes: one phrase, ASCII or Chinese, balanced or not
    ('"字节 跳动"', [5]),
    ("“字节 跳动”", [5]),
    ('"北京 跳动"', []),
    ('"抖音', DOUYIN),
    ('抖音"', DOUYIN),
    ('"百度" "地图"', [4]),
    # FTS5 syntax typed by users is literal text, never operators
    ("抖音 OR 百度", []),
    ("百度 NOT 地图", []),
    ("NOT 抖音", []),
    ("AND", []),
    ("AND OR NOT", []),
    ("NEAR(抖音 推荐)", []),
    ("NEAR", []),
    ("name:抖音", []),
    ("company:百度", []),
    ("{name}: 百度", []),
    ("抖音*", DOUYIN),
    ("-抖音", DOUYIN),
    ("^抖音", DOUYIN),
    ("+百度", BAIDU),
    ("百度 + 地图", [4]),
    ("(百度)", BAIDU),
    ("（百度）", BAIDU),
    ("百度:", BAIDU),
    # nothing searchable
    ("，。！", []),
    ("、，。()（）:“”*-^+", []),
    ('"', []),
    ('""', []),
    ("*", []),
    ("", []),
    ("   ", []),
    ("🥰", []),
    ("\x00", []),
    ("\u202e", []),
    # oversized and hostile
    ("a" * 1000, []),
    ("百度 " + PUNCTUATION * (10_000 // len(PUNCTUATION)), BAIDU),
    (PUNCTUATION * (10_000 // len(PUNCTUATION)), []),
    (JUNK * (10_000 // len(JUNK)), []),
    ("百度" + JUNK * (10_000 // len(JUNK)), []),
    ("😀百度🔍", BAIDU),
    # full-width digits and letters (an input method's full-width mode) as ASCII
    ("ＣｈａｔＧＬＭ", [6]),
    ("网信算备１１０１０８８２３４８３９０１２３００３１号", [1]),
    ("Ｂｅｉｊｉｎｇ－ＷｅｎＸｉｎ", [3]),
    ("\u202e百度\u202c", BAIDU),
    ("百\x00度", BAIDU),
    ("\ud800百度", BAIDU),
])
def test_query_shapes(db: sqlite3.Connection, query: str, rowids: list[int]) -> None:
    match = fts_query(query)
    assert match == parse_search(query).match
    assert _rows(db, match) == rowids
    # The same through escape_fts, as Datasette's table search runs it (from UTF-8 text:
    # a lone surrogate cannot be bound).
    if "\ud800" in query:
        return
    found = db.execute("SELECT rowid FROM t WHERE t MATCH escape_fts(?) ORDER BY rowid",
                       (query,)).fetchall()
    assert [r[0] for r in found] == rowids


def test_full_width_text_in_the_index_matches_ascii_queries_and_is_highlighted() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2')")
    stored = "ＡＩＧＣ写作助手２号"
    db.execute("INSERT INTO t (rowid, x) VALUES (1, ?)", [segment_text(stored)])
    for query in ("AIGC", "aigc写作", "ａｉｇｃ", "2号"):
        assert db.execute("SELECT rowid FROM t WHERE t MATCH ?", [fts_query(query)]
                          ).fetchall() == [(1,)], query
    assert highlight(stored, parse_search("aigc")) == [("ＡＩＧＣ", True), ("写作助手２号", False)]


@pytest.mark.parametrize("query", ["，。！", "", "   ", '"', "*", "🥰", "\x00", "()", "^"])
def test_nothing_to_search_is_detectable(query: str) -> None:
    parsed = parse_search(query)
    assert parsed.match == NO_MATCH == '""' and parsed.matches_nothing and parsed.terms == ()


def test_escape_fts_null_and_blob(db: sqlite3.Connection) -> None:
    for value in (None, b"baidu", 3):
        found = db.execute("SELECT rowid FROM t WHERE t MATCH escape_fts(?)", (value,))
        assert found.fetchall() == []


def test_column_search_as_datasette_runs_it(db: sqlite3.Connection) -> None:
    """?_search_company= runs `company MATCH escape_fts(...)`: the whole expression, groups
    and ANDs included, restricted to one column."""
    def rows(column: str, query: str) -> list[int]:
        return [r[0] for r in db.execute(
            f"SELECT rowid FROM t WHERE {column} MATCH escape_fts(?) ORDER BY rowid", (query,))]
    assert rows("company", "百度") == BAIDU
    assert rows("name", "百度") == [2, 4]
    assert rows("pinyin", "baidu wangxun") == BAIDU
    assert rows("company", "baidu") == []  # its pinyin is in another column


def test_expression_shape() -> None:
    # Phrases side by side are FTS5's implicit AND; a group needs an explicit AND.
    assert fts_query("北京 字节") == '"北 京" "字 节"'
    assert fts_query("baidu wenxin") == '("baidu" * OR "bai du") AND ("wenxin" * OR "wen xin")'
    assert fts_query("抖音 baidu 2023") == '"抖 音" AND ("baidu" * OR "bai du") AND "2023" *'
    assert fts_query("xian") == '"xian" *'  # a syllable as written: no alternative needed
    assert fts_query("抖音 OR 百度") == '"抖 音" "OR" * "百 度"'
    assert fts_query("百度 百度 BAIDU baidu") == '"百 度" AND ("BAIDU" * OR "bai du")'


def test_terms_for_highlighting() -> None:
    parsed = parse_search('baidu "字节 跳动" Beijing-WenXinYiYan 抖音')
    assert [t.text for t in parsed.terms] == ["baidu", "字节 跳动", "Beijing-WenXinYiYan", "抖音"]
    assert [t.syllables for t in parsed.terms] == [("bai", "du"), None, None, None]
    assert [t.quoted for t in parsed.terms] == [False, True, False, False]
    assert parsed.terms[2].tokens == ("Beijing", "WenXinYiYan")
    assert not parsed.too_long and parsed.truncated_to is None


def test_long_queries_are_cut() -> None:
    parsed = parse_search("  " + "a" * 1000 + "  ")
    assert parsed.too_long and parsed.truncated_to == "a" * MAX_QUERY_CHARS
    assert parsed.terms[0].text == "a" * MAX_QUERY_CHARS

    words = [f"w{i}" for i in range(20)]
    parsed = parse_search(" ".join(words))
    assert len(parsed.terms) == MAX_QUERY_TERMS
    assert parsed.too_long and parsed.truncated_to == " ".join(words[:MAX_QUERY_TERMS])
    assert parse_search(parsed.truncated_to).match == parsed.match

    exact = "x" * MAX_QUERY_CHARS
    assert not parse_search(exact).too_long and parse_search(exact).truncated_to is None


def test_a_thousand_letters_and_ten_thousand_characters_are_fast(db: sqlite3.Connection
                                                                 ) -> None:
    for query in ("a" * 1000, "baidu" * 200, (JUNK + "抖音") * 300, "百" * 10_000):
        start = time.process_time()
        _rows(db, fts_query(query))
        assert time.process_time() - start < 0.05, query[:20]


_FRAGMENTS = st.sampled_from([
    "百度", "抖音", "baidu", "BaiDu", "douyin", "ai", "chat", "2023", "110108",
    "Beijing-WenXinYiYan-20230821", "网信算备110108823483901230031号", "nü", "lv", "bai3",
    '"', "“", "”", "(", ")", "（", "）", ":", "*", "^", "-", "+", "{", "}", ",", "，", "、", "。",
    "AND", "OR", "NOT", "NEAR", "NEAR(", "name:", "-name:", "{name company}:", " ", "  ",
    "\x00", "\u202e", "\u200b", "😀", "🥰", "\ud800", "ゞ", "・", "゛", "\u19b0", "e\u0301", "''",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300),
                 st.lists(_FRAGMENTS, max_size=40).map("".join),
                 st.lists(st.one_of(_FRAGMENTS, st.text(max_size=5)), max_size=60).map(" ".join)))
def test_any_text_gives_valid_fts5_quickly(text: str) -> None:
    db = _shared()
    start = time.process_time()
    parsed = parse_search(text)
    rows = _rows(db, parsed.match)  # raises sqlite3.OperationalError on invalid FTS5
    assert time.process_time() - start < 0.05
    assert parsed.match == fts_query(text)
    assert set(rows) <= set(ALL)
    assert parsed.matches_nothing == (not parsed.terms)
    assert len(parsed.terms) <= MAX_QUERY_TERMS
    assert len(parsed.truncated_to or "") <= MAX_QUERY_CHARS


def test_query_tokens_are_fts5_tokens() -> None:
    """No query phrase is ever empty in FTS5: every character the query side keeps as (part of)
    a token is a token character for unicode61 (its Unicode 6.1 tables differ from Python's)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE d USING fts5(a, tokenize = 'unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(d, 'instance')")
    kept = [c for c in [*range(1, 0xD800), *range(0xE000, 0x10000), *range(0x20000, 0x20400)]
            if parse_search(chr(c)).terms]
    db.executemany("INSERT INTO d (rowid, a) VALUES (?, ?)", [(c, chr(c)) for c in kept])
    indexed = {r[0] for r in db.execute("SELECT DISTINCT doc FROM v")}
    assert [hex(c) for c in kept if c not in indexed] == []
    assert len(kept) > 100_000 // 2


# ---------------------------------------------------------------- pinyin

def _old_split_pinyin(word: str) -> list[str] | None:
    """split_pinyin before it was made iterative: longest syllable first, backtracking."""
    word = word.lower()
    if not word.isascii() or not word.isalpha():
        return None

    @cache
    def split_from(i: int) -> tuple[str, ...] | None:
        if i == len(word):
            return ()
        for length in range(min(_LONGEST_SYLLABLE, len(word) - i), 0, -1):
            head = word[i:i + length]
            if head in SYLLABLES:
                rest = split_from(i + length)
                if rest is not None:
                    return (head, *rest)
        return None

    found = split_from(0)
    return list(found) if found else None


def _real_words() -> list[str]:
    """Pinyin of every phrase in pypinyin's dictionary (about 40,000) written as one word, and
    words that are not pinyin."""
    words = {to_pinyin(phrase).replace(" ", "") for phrase in PHRASES_DICT}
    words |= {"baidu", "douyin", "zijietiaodong", "beijing", "xian", "chat", "chatglm", "gpt",
              "hello", "world", "AI", "Tencent", "qq", "wechat", "tiktok", "ernie", "glm"}
    return sorted(w for w in words if w.isascii() and w.isalpha())


def test_split_pinyin_agrees_with_the_old_algorithm_on_real_words() -> None:
    words = _real_words()
    assert len(words) > 30_000
    differ = []
    for word in words:
        new, old = split_pinyin(word), _old_split_pinyin(word)
        assert (new is None) == (old is None), word
        if new != old:
            assert new is not None and old is not None
            # Only where the old one was not the fewest syllables: it read the interjections
            # o and ng (哦, 嗯) into youxiangongsi.
            assert len(new) < len(old) and {"o", "ng", "n", "m", "e"} & set(old), word
            assert "".join(new) == word.lower()
            differ.append(word)
    assert len(differ) < len(words) // 200
    assert _old_split_pinyin("youxiangongsi") == ["you", "xiang", "o", "ng", "si"]
    assert split_pinyin("youxiangongsi") == ["you", "xian", "gong", "si"]


@pytest.mark.parametrize(("word", "syllables"), [
    ("baidu", ["bai", "du"]),
    ("BaiDu", ["bai", "du"]),
    ("xian", ["xian"]),
    ("zhuangzhuang", ["zhuang", "zhuang"]),
    ("douyin", ["dou", "yin"]),
    ("chat", None),
    ("gpt", None),
    ("bai3du4", None),
    ("", None),
    ("百度", None),
])
def test_split_pinyin(word: str, syllables: list[str] | None) -> None:
    assert split_pinyin(word) == syllables


@pytest.mark.parametrize(("word", "syllables"), [
    ("baidu", ["bai", "du"]),
    ("bǎidù", ["bai", "du"]),
    ("bai3du4", ["bai", "du"]),
    ("bai3du", ["bai", "du"]),
    ("nü", ["nv"]),
    ("NÜ3", ["nv"]),
    ("nu\u0308", ["nv"]),
    ("lv", ["lv"]),
    ("gpt4", None),
    ("2023", None),
    ("3bai", None),
    ("a" * 30 + "9", None),  # no backtracking blow-up
])
def test_read_pinyin(word: str, syllables: list[str] | None) -> None:
    assert read_pinyin(word) == syllables


def test_split_pinyin_on_huge_words_returns() -> None:
    assert split_pinyin("a" * 5000) == ["a"] * 5000
    assert split_pinyin("zhuang" * 1000) == ["zhuang"] * 1000
    assert split_pinyin("baidu" * 1000) == ["bai", "du"] * 1000
    assert split_pinyin("b" * 5000) is None
    assert split_pinyin("a" * 4999 + "q") is None
    assert read_pinyin("bai3" * 1250) == ["bai"] * 1250


# ---------------------------------------------------------------- result pages

def _marked(parts: list[tuple[str, bool]]) -> list[str]:
    return [text for text, matched in parts if matched]


def test_highlight() -> None:
    query = parse_search("字节 chat baidu 2023")
    text = "北京字节跳动科技有限公司 ChatGLM Baidu百度 bai du 20230821 glmchat"
    parts = highlight(text, query)
    assert "".join(t for t, _ in parts) == text
    assert _marked(parts) == ["字节", "Chat", "Baidu", "bai du", "2023"]
    # Pinyin terms never light up Chinese; Chinese terms are substrings, across punctuation
    # as FTS5 matches them.
    assert _marked(highlight("北京百度网讯", parse_search("baidu"))) == []
    assert _marked(highlight("字节，跳动", parse_search('"字节跳动"'))) == ["字节，跳动"]
    assert _marked(highlight("抖音音", parse_search("音"))) == ["音音"]
    assert _marked(highlight("Café CAFÉ ChatGLM", parse_search("cafe CHAT"))) == [
        "Café", "CAFÉ", "Chat"]  # case and diacritics folded, as FTS5 folds them
    assert highlight(None, query) == [] and highlight("", query) == []
    assert highlight("abc", parse_search("，")) == [("abc", False)]


def test_highlight_of_long_values_is_fast() -> None:
    query = parse_search('"' + "a " * 44 + '" 音音音 baidu')  # a 44-token phrase
    for text in ("a " * 5000, "音" * 10_000, (JUNK + "百度 Baidu") * 300):
        start = time.process_time()
        parts = highlight(text, query)
        assert time.process_time() - start < 0.5
        assert "".join(part for part, _ in parts) == text


@given(st.text(max_size=200), st.text(max_size=40))
def test_highlight_gives_the_text_back(text: str, query: str) -> None:
    assert "".join(part for part, _ in highlight(text, parse_search(query))) == text


def test_suggest_shorter_for_a_long_chinese_term() -> None:
    bytedance = suggest_shorter(parse_search("北京字节跳动"))
    assert bytedance[:3] == ["字节跳动", "北京字节", "字节"]
    baidu = suggest_shorter(parse_search("北京百度网讯科技有限公司"))
    assert baidu[0] == "百度网讯科技有限公司" and "百度网讯" in baidu
    assert suggest_shorter(parse_search("抖音推荐算法")) == ["抖音推荐", "抖音"]
    for suggestions in (bytedance, baidu):
        assert len(suggestions) <= 5 and len(set(suggestions)) == len(suggestions)


def test_suggest_shorter_drops_one_term_at_a_time(db: sqlite3.Connection) -> None:
    query = parse_search('抖音 baidu "字节 跳动"')
    assert suggest_shorter(query) == ["抖音 baidu", '抖音 "字节 跳动"', 'baidu "字节 跳动"']
    assert _rows(db, query.match) == []
    assert _rows(db, parse_search("抖音 baidu").match) == []
    many = suggest_shorter(parse_search(" ".join(f"w{i}" for i in range(12))))
    assert len(many) == 5 and len(set(many)) == 5


@pytest.mark.parametrize("query", ["", "，", "百度", "baidu", "小红书", "抖音 抖音",
                                   "ChatGLM大模型"])
def test_suggest_shorter_has_nothing_shorter(query: str) -> None:
    assert suggest_shorter(parse_search(query)) == []


@given(st.lists(_FRAGMENTS, max_size=20).map(" ".join))
def test_suggestions_are_new_distinct_and_few(text: str) -> None:
    query: SearchQuery = parse_search(text)
    suggestions = suggest_shorter(query)
    assert len(suggestions) <= 5 and len(set(suggestions)) == len(suggestions)
    assert query.text not in suggestions
    for suggestion in suggestions:
        assert len(parse_search(suggestion).terms) < max(len(query.terms), 2)
