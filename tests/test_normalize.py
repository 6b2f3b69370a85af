"""Normalisers of published cells (filing numbers, companies, products, …), pinyin and
full-text search over segmented Chinese text."""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cac_filings.normalize import (
    ZERO_WIDTH,
    FilingNumber,
    NormalizationError,
    Product,
    clean_text,
    is_cancelled_remark,
    iso_date,
    normalize_company,
    normalize_filing_number,
    normalize_role,
    parse_former_names,
    parse_products,
    suanbei_check_digit,
    suanbei_check_ok,
)
from cac_filings.pinyin import to_pinyin
from cac_filings.regions import province_for_region
from cac_filings.search import fts_query, segment_text

GOOD = "网信算备110108823483901230031号"
GOOD_DIGITS = "110108823483901230031"
TWENTY_TWO_DIGITS = "网信算备1101082242366066220017号"  # algorithm list 2022年8月
CHECK_FAILS = "网信算备440305295988702220055号"  # algorithm list 2022年10月

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
SPACES = " \t\n\r\u3000\u00a0\u2002\u2009"
NOISE = SPACES + ZERO_WIDTH

digits20 = st.text(alphabet="0123456789", min_size=20, max_size=20)


def _insert(text: str, insertions: list[tuple[int, str]]) -> str:
    chars = list(text)
    for position, char in insertions:
        chars.insert(position % (len(chars) + 1), char)
    return "".join(chars)


insertions = st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(NOISE)), max_size=8)


# ---------------------------------------------------------------- filing numbers


@pytest.mark.parametrize("published", [
    GOOD,
    f" {GOOD} ",
    f"{GOOD}\n",
    "网信算备 110108 8234839 01 23 003 1 号",
    "网信算备1101088\u200b23483901230031\ufeff号",
    f"网信算备：{GOOD_DIGITS}号",
    f"网信算备:{GOOD_DIGITS}号",
    f"网信算备{GOOD_DIGITS.translate(FULL_WIDTH)}号",
    f"网信算备：{GOOD_DIGITS.translate(FULL_WIDTH)}号\n",
    f"网信算备{GOOD_DIGITS}",
])
def test_filing_number_variants_share_one_canonical_form(published: str) -> None:
    assert normalize_filing_number(published) == FilingNumber(
        canonical=GOOD, valid=True, region_code="110108", entity_code="1101088234839",
        category_code="01", year=2023, province="北京市", flags=())


def test_twenty_two_digit_number_is_kept_and_flagged_malformed() -> None:
    number = normalize_filing_number(TWENTY_TWO_DIGITS)
    assert number.canonical == TWENTY_TWO_DIGITS
    assert number.valid is False
    assert number.flags == ("number_malformed",)
    assert (number.region_code, number.entity_code, number.year) == (None, None, None)


def test_number_failing_the_check_digit_is_kept_flagged_and_parsed() -> None:
    number = normalize_filing_number(CHECK_FAILS)
    assert number == FilingNumber(
        canonical=CHECK_FAILS, valid=False, region_code="440305", entity_code="4403052959887",
        category_code="02", year=2022, province="广东省", flags=("check_digit_failed",))


def test_number_from_unknown_region_is_flagged_but_valid() -> None:
    first20 = "99010882348390123003"
    number = normalize_filing_number(f"网信算备{first20}{suanbei_check_digit(first20)}号")
    assert number.valid is True
    assert number.province is None
    assert number.flags == ("region_unknown",)


@pytest.mark.parametrize(("published", "canonical", "flag"), [
    ("", "", "number_missing"),
    (" \n\u200b", "", "number_missing"),
    ("garbage", "garbage", "number_malformed"),
    ("12345", "12345", "number_malformed"),
    (GOOD_DIGITS, GOOD_DIGITS, "number_malformed"),
    ("Beijing-WenXinYiYan-20230821", "Beijing-WenXinYiYan-20230821", "number_malformed"),
    ("网信算备 1101 08号", "网信算备110108号", "number_malformed"),
])
def test_garbage_and_empty_numbers_are_flagged(published: str, canonical: str, flag: str) -> None:
    number = normalize_filing_number(published)
    assert number == FilingNumber(canonical=canonical, valid=False, flags=(flag,))


@pytest.mark.parametrize("zero", ["\u0660", "\u0966"], ids=["arabic-indic", "devanagari"])
def test_non_ascii_digits_do_not_make_a_canonical_number(zero: str) -> None:
    # DATA-CONTRACT: canonical = 网信算备 + 21 *ASCII* digits + 号. NFKC leaves these digits alone.
    digits = "".join(chr(ord(zero) + int(d)) for d in GOOD_DIGITS)
    number = normalize_filing_number(f"网信算备{digits}号")
    assert number.valid is False
    assert number.flags == ("number_malformed",)
    assert number.region_code is None


@pytest.mark.parametrize(("digits", "ok"), [
    (GOOD_DIGITS, True),
    ("440305295988702220055", False),
    (GOOD_DIGITS[:20], False),
    (GOOD_DIGITS + "1", False),
    (GOOD_DIGITS.translate(FULL_WIDTH), False),
    ("", False),
    ("11010882348390123003x", False),
])
def test_suanbei_check_ok(digits: str, ok: bool) -> None:
    assert suanbei_check_ok(digits) is ok


@given(digits20)
def test_completed_number_is_valid(first20: str) -> None:
    check = suanbei_check_digit(first20)
    assert check in "13579"  # the rule forces an odd last digit
    assert suanbei_check_ok(first20 + check)
    assert normalize_filing_number(f"网信算备{first20}{check}号").valid


@given(digits20, st.integers(min_value=0, max_value=20), st.integers(min_value=1, max_value=9))
def test_single_digit_change_detected_unless_by_five(first20: str, position: int,
                                                     delta: int) -> None:
    # Weights are powers of two (never a multiple of 5): a change by 5 in digits 1–20 shifts
    # the sum by a multiple of 10 and goes unnoticed; every other change, and any change of
    # the check digit itself, is caught.
    digits = list(first20 + suanbei_check_digit(first20))
    digits[position] = str((int(digits[position]) + delta) % 10)
    changed = "".join(digits)
    detected = position == 20 or delta != 5
    assert suanbei_check_ok(changed) is not detected
    assert normalize_filing_number(f"网信算备{changed}号").valid is not detected


@given(digits20)
def test_canonicalisation_is_idempotent(first20: str) -> None:
    number = normalize_filing_number(f"网信算备{first20}{suanbei_check_digit(first20)}号")
    assert normalize_filing_number(number.canonical) == number


@given(st.text(alphabet="网信算备号：:0123456789０１２３４５６７８９x-", max_size=30))
def test_canonicalisation_is_idempotent_for_any_number_like_text(text: str) -> None:
    number = normalize_filing_number(text)
    assert normalize_filing_number(number.canonical) == number


@given(digits20, st.booleans(), insertions)
def test_whitespace_and_zero_width_characters_do_not_matter(
        first20: str, full_width: bool, noise: list[tuple[int, str]]) -> None:
    digits = first20 + suanbei_check_digit(first20)
    if full_width:
        digits = digits.translate(FULL_WIDTH)
    published = f"网信算备：{digits}号"
    assert normalize_filing_number(_insert(published, noise)) == \
        normalize_filing_number(published)


@given(st.text(alphabet="0123456789", min_size=1, max_size=25), insertions)
def test_noise_does_not_matter_for_malformed_numbers(digits: str,
                                                     noise: list[tuple[int, str]]) -> None:
    published = f"网信算备{digits}号"
    assert normalize_filing_number(_insert(published, noise)) == \
        normalize_filing_number(published)


# ---------------------------------------------------------------- companies


@pytest.mark.parametrize(("published", "expected"), [
    ("腾讯科技（深圳）有限公司", "腾讯科技（深圳）有限公司"),
    ("腾讯科技(深圳)有限公司", "腾讯科技（深圳）有限公司"),
    (" 北京字节跳动\n科技有限公司 ", "北京字节跳动科技有限公司"),
    ("北京\u200b百度网讯\u00ad科技有限公司", "北京百度网讯科技有限公司"),
    ("ＡＢＣ科技　有限公司(北京)", "ABC科技有限公司（北京）"),
    (None, None),
    ("", None),
    (" \u3000\u200b", None),
])
def test_normalize_company(published: str | None, expected: str | None) -> None:
    assert normalize_company(published) == expected


company_text = st.text(alphabet=st.one_of(
    st.sampled_from("北京字节跳动科技有限公司（）()ＡＢＣ１２３abcXYZ-·."),
    st.sampled_from(NOISE),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),
))


@given(company_text)
def test_normalize_company_is_idempotent(text: str) -> None:
    once = normalize_company(text)
    assert once is None or normalize_company(once) == once


@pytest.mark.parametrize("published", ["Cafe \u0301", "Cafe\u200b\u0301", "\u1100 \u1161"],
                         ids=["space-before-accent", "zero-width-before-accent", "hangul-jamo"])
def test_normalize_company_output_is_nfkc_even_when_noise_separated_combining_marks(
        published: str) -> None:
    # NFKC runs before whitespace / zero-width removal, so removal can bring a base character
    # and a combining mark together into text that is no longer NFKC (and a second call
    # changes it).
    once = normalize_company(published)
    assert once is not None
    assert unicodedata.is_normalized("NFKC", once.replace("（", "(").replace("）", ")"))
    assert normalize_company(once) == once


# ---------------------------------------------------------------- products


@pytest.mark.parametrize(("published", "expected"), [
    (None, []),
    ("", []),
    ("--", []),
    (" -- ", []),
    ("\u200b--", []),
    ("无", []),
    ("抖音（APP）", [("抖音", "APP")]),
    ("抖音(APP)", [("抖音", "APP")]),
    ("抖音（app）", [("抖音", "APP")]),
    ("小红书（APP、网站）", [("小红书", "APP"), ("小红书", "网站")]),
    ("百度新闻（APP、网站）百度百科（APP、网站）",
     [("百度新闻", "APP"), ("百度新闻", "网站"), ("百度百科", "APP"), ("百度百科", "网站")]),
    ("抖音（APP）、今日头条（APP）等", [("抖音", "APP"), ("今日头条", "APP")]),
    ("抖音(APP)等", [("抖音", "APP")]),
    ("抖音（APP）\n今日头条（网站）", [("抖音", "APP"), ("今日头条", "网站")]),
    ("抖音（APP）；今日头条（网站）", [("抖音", "APP"), ("今日头条", "网站")]),
    ("希沃白板（桌面版）(APP)", [("希沃白板（桌面版）", "APP")]),
    ("（欢太）浏览器（APP）", [("（欢太）浏览器", "APP")]),
    ("中智国培科技发展（北京）有限公司官网(网站)",
     [("中智国培科技发展（北京）有限公司官网", "网站")]),
    ("写作蛙（微信小程序）", [("写作蛙", "微信小程序")]),
    ("豆包（APP、网站、微信小程序）",
     [("豆包", "APP"), ("豆包", "网站"), ("豆包", "微信小程序")]),
    ("某某（快应用、智能硬件）", [("某某", "快应用"), ("某某", "智能硬件")]),
    ("智能客服", [("智能客服", None)]),
    ("智能客服、抖音（APP）", [("智能客服", None), ("抖音", "APP")]),
    ("抖音（APP）、抖音(APP)、抖音（APP）", [("抖音", "APP")]),
])
def test_parse_products(published: str | None, expected: list[tuple[str, str | None]]) -> None:
    assert parse_products(published) == [Product(name, kind) for name, kind in expected]


def test_full_and_half_width_parentheses_give_the_same_product() -> None:
    assert parse_products("抖音（APP）") == parse_products("抖音(APP)") == [Product("抖音", "APP")]


# ---------------------------------------------------------------- roles, text, remarks


@pytest.mark.parametrize(("published", "expected"), [
    ("服务提供者", "service_provider"),
    ("服务技术支持者", "technical_supporter"),
    (" 服务技术\n支持者 ", "technical_supporter"),
    (None, None),
    ("", None),
])
def test_normalize_role(published: str | None, expected: str | None) -> None:
    assert normalize_role(published) == expected


@pytest.mark.parametrize("published", ["服务提供", "个性化推送类", "provider"])
def test_unknown_role_raises(published: str) -> None:
    with pytest.raises(NormalizationError, match=published):
        normalize_role(published)


@pytest.mark.parametrize(("published", "expected"), [
    ("用于为用户\n推荐视频", "用于为用户推荐视频"),
    ("用于为用户 \r\n 推荐视频", "用于为用户推荐视频"),
    ("AI\n推荐", "AI 推荐"),
    ("推荐\nAI", "推荐 AI"),
    ("abc\ndef", "abc def"),
    ("  多个   空格 ", "多个 空格"),
    ("算\u200b法\ufeff", "算法"),
    ("不变", "不变"),
    (None, None),
    ("", None),
    (" \n\u200b ", None),
])
def test_clean_text(published: str | None, expected: str | None) -> None:
    assert clean_text(published) == expected


@pytest.mark.parametrize(("remarks", "expected"), [
    ("原主体名称“北京某某科技有限公司”变更为“北京新名(集团)有限公司”",
     [("北京某某科技有限公司", "北京新名（集团）有限公司")]),
    ('原主体名称"A 公司"变更为"B公司"；原主体名称“C公司”变更为“D公司”',
     [("A公司", "B公司"), ("C公司", "D公司")]),
    # The other wordings CAC uses, quoted or not (a bare name ends at the punctuation).
    ("变更内容：主体名称“国泰君安证券股份有限公司”变更为“国泰海通证券股份有限公司”，新增产品"
     "AI投教服务助手(网站)，“国泰君安君弘(APP)”变更为“国泰海通君弘(APP)”",
     [("国泰君安证券股份有限公司", "国泰海通证券股份有限公司")]),
    ("原主体名称由“粤港澳大湾区数字经济研究院（福田）”变更为“粤港澳大湾区数字经济研究院（国际先进"
     "技术应用推进中心（深圳））”",
     [("粤港澳大湾区数字经济研究院（福田）",
       "粤港澳大湾区数字经济研究院（国际先进技术应用推进中心（深圳））")]),
    ("2024年8月，变更内容：主体名称由佛山卓瞻科技有限公司变更为广州卓瞻科技有限公司，新增产品卓瞻(网站)",
     [("佛山卓瞻科技有限公司", "广州卓瞻科技有限公司")]),
    ("2024年4月、6月，新增关联产品愈苹AI(网站)，主体由佛山愈苹科技有限公司变更为广州愈苹科技有限公司",
     [("佛山愈苹科技有限公司", "广州愈苹科技有限公司")]),
    ("2024年8月，原主体名称鸣煌科技（佛山）有限公司变更为广州鸣煌人工智能技术有限公司",
     [("鸣煌科技（佛山）有限公司", "广州鸣煌人工智能技术有限公司")]),
    ("原主体“天津论论科学技术发展有限责任公司”变更为“海南论论科学技术有限公司”",
     [("天津论论科学技术发展有限责任公司", "海南论论科学技术有限公司")]),
    # Not the company: a product's or an algorithm's new name, the company named again.
    ("变更内容：产品名称由“宝宝云平台（APP）”变更为“宝宝云(APP)”", []),
    ("2024年8月，变更内容：算法名称由云雀大模型算法变更为豆包大模型算法", []),
    ("2022年9月更新备案主体名称", []),
    # Not read rather than misread: no former name, or one run into the words around it.
    ("2024年5月，主体名称变更为乙科技有限公司", []),
    ("原主体名称变更为“乙公司”", []),
    ("主体信息变更为乙公司", []),
    ("主体名称已由甲公司变更为乙公司", []),
    ("主体名称由甲科技有限公司于2024年4月变更为乙科技有限公司", []),
    ("变更内容：应用产品", []),
    ("已注销", []),
    ("", []),
    (None, []),
])
def test_parse_former_names(remarks: str | None, expected: list[tuple[str, str]]) -> None:
    assert parse_former_names(remarks) == expected


@pytest.mark.parametrize(("remarks", "expected"), [
    ("已注销", True),
    ("已 注销", True),
    ("2024年1月已注销", True),
    ("变更内容：应用产品", False),
    ("", False),
    (None, False),
])
def test_is_cancelled_remark(remarks: str | None, expected: bool) -> None:
    assert is_cancelled_remark(remarks) is expected


@pytest.mark.parametrize(("region", "province"), [
    ("110108", "北京市"),
    ("440305", "广东省"),
    ("500000", "重庆市"),
    ("650100", "新疆维吾尔自治区"),
    ("990000", None),
    ("", None),
])
def test_province_for_region(region: str, province: str | None) -> None:
    assert province_for_region(region) == province


@pytest.mark.parametrize(("text", "expected"), [
    ("重庆", "chong qing"),
    ("银行", "yin hang"),
    ("长沙银行", "chang sha yin hang"),
    ("北京字节跳动科技有限公司", "bei jing zi jie tiao dong ke ji you xian gong si"),
    ("腾讯科技（深圳）有限公司", "teng xun ke ji shen zhen you xian gong si"),
    ("绿", "lv"),
    ("ChatGLM 模型", "chatglm mo xing"),
    ("ABC123", "abc123"),
    ("", ""),
])
def test_to_pinyin(text: str, expected: str) -> None:
    assert to_pinyin(text) == expected



# ---------------------------------------------------------------- full-text search


@pytest.mark.parametrize(("text", "expected"), [
    (None, None),
    ("", ""),
    ("抖音", "抖 音"),
    ("ChatGLM大模型", "ChatGLM 大 模 型"),
    ("网信算备110108号", "网 信 算 备 110108 号"),
])
def test_segment_text(text: str | None, expected: str | None) -> None:
    assert segment_text(text) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("抖音", '"抖 音"'),
    ("音", '"音"'),
    ("chat", '"chat" *'),
    ("1101088", '"1101088" *'),
    ("北京 字节", '"北 京" "字 节"'),
    ('"字节 跳动"', '"字 节 跳 动"'),
    ("ChatGLM大模型", '"ChatGLM 大 模 型"'),
    ("，。！", '""'),
    ("", '""'),
    ("   ", '""'),
])
def test_fts_query(query: str, expected: str) -> None:
    assert fts_query(query) == expected


FTS_ROWS = [
    ("抖音推荐算法", "北京字节跳动科技有限公司", "网信算备110108823483901230031号"),
    ("ChatGLM大模型", "北京智谱华章科技有限公司", "网信算备110108105858001230019号"),
    ("百度搜索算法", "北京百度网讯科技有限公司", "网信算备110108823483902220017号"),
    ("小红书推荐算法", "行吟信息科技（上海）有限公司", "网信算备310101000000001220011号"),
]


@pytest.fixture
def fts() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE filings_fts USING fts5(name, company, filing_number, "
               "tokenize = 'unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO filings_fts (rowid, name, company, filing_number) "
                   "VALUES (?, ?, ?, ?)",
                   [(i, *(segment_text(v) for v in row)) for i, row in enumerate(FTS_ROWS, 1)])
    yield db
    db.close()


@pytest.mark.parametrize(("query", "rowids"), [
    ("抖音", [1]),
    ("百度", [3]),
    ("音", [1]),
    ("北京字节跳动", [1]),
    ("chat", [2]),
    ("CHATGLM", [2]),
    ("1101081058", [2]),
    ("110108", [1, 2, 3]),
    ("推荐", [1, 4]),
    ("字节 抖音", [1]),
    ('"字节 跳动"', [1]),
    ("上海", [4]),
    ("音抖", []),
    ('"北京 跳动"', []),
    ("不存在", []),
    ("zzz", []),
    ("，。！", []),
    ('"', []),
    ("*", []),
    ("AND OR NOT", []),
    ("NEAR(", []),
])
def test_fts5_round_trip(fts: sqlite3.Connection, query: str, rowids: list[int]) -> None:
    found = fts.execute("SELECT rowid FROM filings_fts WHERE filings_fts MATCH ? ORDER BY rowid",
                        (fts_query(query),)).fetchall()
    assert [row[0] for row in found] == rowids


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-07-14 10:00:00", "2025-07-14"),
    ("发布时间：2022年8月12日", "2022-08-12"),
    ("２０２３/８/３１", "2023-08-31"),
    ("2024-13-40", None),  # not a day: never a published_on
    ("2023-02-29", None),
    ("", None),
    (None, None),
])
def test_iso_date(text: str | None, expected: str | None) -> None:
    assert iso_date(text) == expected
