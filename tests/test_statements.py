"""Reading the totals CAC states about its generative-AI lists (cac_filings.statements)."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cac_filings.statements import (
    CUMULATIVE,
    NEW_IN_YEAR,
    ParsedStatement,
    StatedCount,
    chinese_numeral,
    parse_statement,
)

# On CAC's page of 2025-01-08.
REAL_2025 = (
    "截至2024年12月31日，共有302款生成式人工智能服务在国家网信办完成备案，其中2024年新增备案"
    "238款；对于通过API接口或其他方式直接调用已备案模型能力的生成式人工智能应用或功能，2024年"
    "共有105款生成式人工智能应用或功能在地方网信办完成登记。"
)
# On CAC's page of 2026-01-09.
REAL_2026 = (
    "截至2025年12月31日，累计748款生成式人工智能服务在国家网信办完成备案，累计435款生成式人工"
    "智能应用或功能在地方网信办完成登记。"
)
SERVICES = "生成式人工智能服务"
APPS = "生成式人工智能应用或功能"
# The other paragraphs of CAC's generative-AI and deep-synthesis pages: no figures in them.
DEEP_SYNTHESIS_BODY = (
    "根据《互联网信息服务深度合成管理规定》，现公开发布第十二批境内深度合成服务算法备案信息，"
    "具体如下……"
)
QUIET_PARAGRAPHS = [
    DEEP_SYNTHESIS_BODY,
    "根据《互联网信息服务深度合成管理规定》第十九条，完成备案的深度合成服务提供者和技术支持者应当"
    "在其对外提供服务的网站、应用程序等的显著位置标明其备案编号并提供公示信息链接。",
    "2025年1月至2月，国家互联网信息办公室会同有关部门持续开展生成式人工智能服务备案和登记工作，"
    "现将2025年1月至2月新增已备案和已登记信息予以公告。",
    "下一步，国家网信办将会同有关部门持续做好生成式人工智能服务备案和登记工作，并定期在官网汇总"
    "公布。",
    "具体信息可通过互联网信息服务算法备案系统（https://beian.cac.gov.cn）进行查询。",
]


def only(parsed: ParsedStatement) -> StatedCount:
    assert parsed.unparsed == []
    assert len(parsed.counts) == 1, parsed.counts
    return parsed.counts[0]


def figures(parsed: ParsedStatement) -> list[int]:
    return [count.figure for count in parsed.counts]


def facts(parsed: ParsedStatement) -> list[tuple[object, ...]]:
    """Each count without the sentence it was read from."""
    return [(c.figure, c.as_of, c.year, c.measure, c.counted, c.subject) for c in parsed.counts]


# ---------------------------------------------------------------- the real sentences


def test_the_statement_of_2025_01_08() -> None:
    parsed = parse_statement(REAL_2025, published_on="2025-01-08")
    assert parsed == ParsedStatement(
        counts=[
            StatedCount("2024-12-31", None, CUMULATIVE, "filed", SERVICES, 302,
                        "共有302款生成式人工智能服务在国家网信办完成备案"),
            StatedCount("2024-12-31", 2024, NEW_IN_YEAR, "filed", SERVICES, 238,
                        "其中2024年新增备案238款"),
            StatedCount("2024-12-31", 2024, NEW_IN_YEAR, "registered", APPS, 105,
                        "2024年共有105款生成式人工智能应用或功能在地方网信办完成登记"),
        ],
        unparsed=[],
    )  # fmt: skip


def test_the_statement_of_2026_01_09() -> None:
    parsed = parse_statement(REAL_2026, published_on="2026-01-09")
    assert parsed == ParsedStatement(
        counts=[
            StatedCount("2025-12-31", None, CUMULATIVE, "filed", SERVICES, 748,
                        "累计748款生成式人工智能服务在国家网信办完成备案"),
            StatedCount("2025-12-31", None, CUMULATIVE, "registered", APPS, 435,
                        "累计435款生成式人工智能应用或功能在地方网信办完成登记"),
        ],
        unparsed=[],
    )  # fmt: skip


def test_the_publication_date_is_not_needed() -> None:
    assert parse_statement(REAL_2025) == parse_statement(REAL_2025, published_on="2025-01-08")
    assert parse_statement(REAL_2026) == parse_statement(REAL_2026, "not a date")


def test_the_statement_in_its_page_context() -> None:
    page = "\n".join(["国家互联网信息办公室", REAL_2025, QUIET_PARAGRAPHS[3], "2025年1月8日"])
    assert figures(parse_statement(page, "2025-01-08")) == [302, 238, 105]
    assert parse_statement(page).unparsed == []


# ---------------------------------------------------------------- numerals


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("302", 302), ("1234", 1234), ("1,234", 1234), ("12,345,678", 12345678),
        ("３０２", 302), ("１，２３４", 1234), (" 302 ", 302), ("0", 0),
        ("三百零二", 302), ("七百四十八", 748), ("二百三十八", 238), ("一百零五", 105),
        ("四百三十五", 435), ("十", 10), ("十二", 12), ("二十", 20), ("二十一", 21),
        ("一百零三", 103), ("一百一十", 110), ("一千零五", 1005), ("一千零五十", 1050),
        ("两千", 2000), ("两百", 200), ("两千五", 2500), ("一百一", 110), ("三万五", 35000),
        ("一万二千", 12000), ("一万二", 12000), ("一万零三百", 10300), ("十万", 100000),
        ("一百万", 1000000), ("一亿二千万", 120000000), ("3万", 30000), ("零", 0),
        ("二〇二四", 2024), ("二零二五", 2025), ("壹佰贰拾叁", 123),
    ],
)  # fmt: skip
def test_chinese_numeral(text: str, value: int | None) -> None:
    assert chinese_numeral(text) == value


@pytest.mark.parametrize(
    "text",
    ["", " ", "abc", "百", "千", "万", "十十", "百百", "十百", "二三百", "一万萬", "1,23",
     "12,3456", "1,2,3", "3.5", "-5", "2024年", "三百零二款", "三百 零二", "ⅲ", "1" * 5000],
)  # fmt: skip
def test_chinese_numeral_rejects_what_is_not_one_number(text: str) -> None:
    assert chinese_numeral(text) is None


def cn(n: int) -> str:
    """n in Chinese numerals as written in running text (十二, 一百一十, 一万零三百)."""
    digits = "零一二三四五六七八九"

    def section(v: int, leading: bool) -> str:
        out, zero = "", False
        for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            d = v // unit % 10
            if d:
                out += "零" if zero else ""
                zero = False
                out += ("" if d == 1 and unit == 10 and not out and leading else digits[d]) + name
            elif out:
                zero = True
        return out

    if n == 0:
        return "零"
    high, low = divmod(n, 10000)
    if not high:
        return section(low, True)
    text = section(high, True) + "万"
    if low and low < 1000:
        text += "零"
    return text + (section(low, False) if low else "")


def test_the_formatter_of_these_tests() -> None:
    assert [cn(n) for n in (10, 12, 110, 302, 1005, 10300, 12000, 100000, 1000010)] == [
        "十", "十二", "一百一十", "三百零二", "一千零五", "一万零三百", "一万二千", "十万",
        "一百万零一十",
    ]  # fmt: skip


@given(st.integers(min_value=0, max_value=10**8 - 1))
def test_chinese_numerals_round_trip(n: int) -> None:
    assert chinese_numeral(cn(n)) == n
    assert chinese_numeral(str(n)) == n
    assert chinese_numeral(f"{n:,}") == n
    assert chinese_numeral(str(n).translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)})) == n


@given(st.text())
def test_chinese_numeral_never_raises(text: str) -> None:
    value = chinese_numeral(text)
    assert value is None or value >= 0


# ---------------------------------------------------------------- how figures are written

FULL_WIDTH = {c: c + 0xFEE0 for c in range(0x30, 0x3A)}


@pytest.mark.parametrize(
    ("figure", "written"),
    [(302, "302"), (302, "３０２"), (1234, "1,234"), (1234, "１,２３４"), (302, "三百零二"),
     (2000, "两千"), (12000, "一万二千"), (3, "三"), (1, "一")],
)  # fmt: skip
def test_figures_written_in_any_way(figure: int, written: str) -> None:
    text = f"截至2024年12月31日，共有{written}款生成式人工智能服务在国家网信办完成备案。"
    count = only(parse_statement(text))
    assert (count.figure, count.as_of, count.measure) == (figure, "2024-12-31", CUMULATIVE)
    assert written in count.sentence


def test_a_statement_in_chinese_numerals_throughout() -> None:
    text = (
        "截至二〇二四年十二月三十一日，共有三百零二款生成式人工智能服务在国家网信办完成备案，"
        "其中二〇二四年新增备案二百三十八款；对于通过API接口或其他方式直接调用已备案模型能力的"
        "生成式人工智能应用或功能，二〇二四年共有一百零五款生成式人工智能应用或功能在地方网信办"
        "完成登记。"
    )
    parsed = parse_statement(text)
    digits = parse_statement(REAL_2025)
    assert parsed.unparsed == []
    assert facts(parsed) == facts(digits)
    assert parsed.counts[1].sentence == "其中二〇二四年新增备案二百三十八款"


def test_full_width_digits_throughout() -> None:
    parsed = parse_statement(REAL_2025.translate(FULL_WIDTH))
    assert figures(parsed) == [302, 238, 105]
    assert [c.as_of for c in parsed.counts] == ["2024-12-31"] * 3
    assert parsed.counts[1].year == 2024


def test_a_thousands_separator_does_not_split_the_clause() -> None:
    count = only(parse_statement("截至2030年12月31日,共有1,234款生成式人工智能服务完成备案."))
    assert (count.figure, count.subject) == (1234, SERVICES)
    assert count.sentence == "共有1,234款生成式人工智能服务完成备案"


def test_a_full_width_comma_between_digits_is_too_ambiguous() -> None:
    parsed = parse_statement("截至2030年12月31日，共有1，234款生成式人工智能服务完成备案。")
    assert parsed.counts == []
    assert parsed.unparsed == ["截至2030年12月31日，共有1，234款生成式人工智能服务完成备案"]


# ---------------------------------------------------------------- measures


@pytest.mark.parametrize("keyword", ["共有", "累计", "总计", "合计", "共计", "已有", "共"])
def test_running_totals(keyword: str) -> None:
    text = f"截至2024年12月31日，{keyword}302款生成式人工智能服务完成备案。"
    count = only(parse_statement(text))
    assert (count.measure, count.year, count.as_of, count.figure) == (
        CUMULATIVE, None, "2024-12-31", 302)  # fmt: skip
    assert count.subject == SERVICES


@pytest.mark.parametrize(
    "text",
    [
        "截至2024年12月31日，国家网信办累计备案生成式人工智能服务302款。",
        "截至2024年12月31日，已完成备案的生成式人工智能服务共302款。",
        "截至2024年12月31日，完成备案的生成式人工智能服务数量达302款。",
        "截至2024年12月31日，共有302款生成式人工智能服务，在国家网信办完成备案。",
        "截至2024年12月31日，302款已备案的生成式人工智能服务。",
        "截至2024年12月31日，共有302款生成式人工智能服务已在国家网信办完成备案。",
    ],
)
def test_word_orders(text: str) -> None:
    count = only(parse_statement(text))
    assert (count.figure, count.counted, count.subject) == (302, "filed", SERVICES)
    assert count.as_of == "2024-12-31"


def test_a_count_without_a_keyword_is_a_total_under_an_as_of_date() -> None:
    count = only(parse_statement("截至2024年12月31日，302款生成式人工智能服务完成备案。"))
    assert count.measure == CUMULATIVE


def test_a_total_without_any_date() -> None:
    count = only(parse_statement("累计748款生成式人工智能服务在国家网信办完成备案。"))
    assert (count.measure, count.as_of, count.year) == (CUMULATIVE, None, None)


@pytest.mark.parametrize(
    "phrase",
    [
        "2024年新增备案238款",
        "2024年共有238款生成式人工智能服务完成备案",
        "2024年全年新增238款生成式人工智能服务完成备案",
        "2024年度新增备案生成式人工智能服务238款",
    ],
)
def test_the_new_ones_of_a_year(phrase: str) -> None:
    count = only(parse_statement(phrase + "。"))
    assert (count.measure, count.year, count.as_of, count.figure) == (
        NEW_IN_YEAR, 2024, "2024-12-31", 238)  # fmt: skip


def test_qi_zhong_xin_zeng_belongs_to_the_as_of_year() -> None:
    text = "截至2024年12月31日，共有302款生成式人工智能服务完成备案，其中新增备案238款。"
    new = parse_statement(text).counts[1]
    assert (new.measure, new.year, new.as_of, new.subject) == (
        NEW_IN_YEAR, 2024, "2024-12-31", SERVICES)  # fmt: skip


def test_new_without_any_year_cannot_be_read() -> None:
    parsed = parse_statement("新增备案238款生成式人工智能服务。")
    assert parsed.counts == []
    assert parsed.unparsed == ["新增备案238款生成式人工智能服务"]


def test_a_year_that_ended_before_the_as_of_date_ends_on_its_last_day() -> None:
    text = "截至2025年6月30日，累计400款生成式人工智能服务完成备案，2024年新增备案238款。"
    total, new = parse_statement(text).counts
    assert total.as_of == "2025-06-30"
    assert (new.year, new.as_of) == (2024, "2024-12-31")


def test_a_year_not_over_when_published_has_no_as_of_date() -> None:
    text = "2024年共有105款生成式人工智能应用或功能在地方网信办完成登记。"
    assert only(parse_statement(text, "2024-07-01")).as_of is None
    assert only(parse_statement(text, "2025-01-08")).as_of == "2024-12-31"
    year_to_date = "截至2024年6月30日，" + text
    assert only(parse_statement(year_to_date, "2024-07-01")).as_of == "2024-06-30"


@pytest.mark.parametrize(
    ("phrase", "year"), [("今年新增", 2025), ("去年新增", 2024), ("当年新增", 2025)]
)
def test_relative_years(phrase: str, year: int) -> None:
    text = f"截至2025年6月30日，{phrase}备案生成式人工智能服务98款。"
    count = only(parse_statement(text, published_on="2025-07-10"))
    assert (count.measure, count.year) == (NEW_IN_YEAR, year)


# ---------------------------------------------------------------- as-of dates


@pytest.mark.parametrize("lead", ["截至", "截止", "截止到", "截至到"])
@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("2024年12月31日", "2024-12-31"),
        ("2024年12月31号", "2024-12-31"),
        ("2024年12月底", "2024-12-31"),
        ("2024年12月末", "2024-12-31"),
        ("2024年底", "2024-12-31"),
        ("2024年年底", "2024-12-31"),
        ("2024年末", "2024-12-31"),
        ("2024年12月", "2024-12-31"),
        ("2024年2月", "2024-02-29"),
        ("2025年6月", "2025-06-30"),
        ("2025年上半年", "2025-06-30"),
        ("二〇二五年六月三十日", "2025-06-30"),
        ("２０２４年１２月３１日", "2024-12-31"),
    ],
)
def test_as_of_dates(lead: str, written: str, iso: str) -> None:
    count = only(parse_statement(f"{lead}{written}，累计748款生成式人工智能服务完成备案。"))
    assert count.as_of == iso


def test_as_of_dates_relative_to_the_publication() -> None:
    text = "截至目前，累计748款生成式人工智能服务完成备案。"
    assert only(parse_statement(text, "2026-01-09")).as_of == "2026-01-09"
    assert only(parse_statement(text)).as_of is None
    no_year = "截至12月31日，累计748款生成式人工智能服务完成备案。"
    assert only(parse_statement(no_year, "2026-01-09")).as_of == "2025-12-31"
    assert only(parse_statement(no_year)).as_of is None
    this_year = "截至今年6月底，累计748款生成式人工智能服务完成备案。"
    assert only(parse_statement(this_year, "2025-07-10")).as_of == "2025-06-30"


def test_a_date_without_jiezhi_is_an_as_of_date_only_before_a_total() -> None:
    total = only(parse_statement("2024年12月31日，共有302款生成式人工智能服务完成备案。"))
    assert (total.as_of, total.measure) == ("2024-12-31", CUMULATIVE)
    dated = parse_statement("2024年12月31日，302款生成式人工智能服务完成备案。")
    assert dated.counts == []  # a figure of that month? of that day? not said
    assert len(dated.unparsed) == 1


@pytest.mark.parametrize(
    "written", ["2024年", "2024年13月", "2024年2月30日", "上半年", "本周", "0000年12月31日"]
)
def test_as_of_dates_that_cannot_be_read(written: str) -> None:
    text = f"截至{written}，累计748款生成式人工智能服务完成备案。"
    parsed = parse_statement(text)
    assert parsed.counts == []
    assert parsed.unparsed == [text.rstrip("。")]


def test_a_deadline_is_not_an_as_of_date() -> None:
    text = "备案截止日期为2024年12月31日，累计748款生成式人工智能服务完成备案。"
    assert only(parse_statement(text)).as_of is None


def test_the_as_of_date_carries_over_within_a_sentence() -> None:
    text = (
        "截至2024年12月31日，共有302款生成式人工智能服务完成备案；"
        "对于调用已备案模型的应用，共有105款生成式人工智能应用或功能完成登记。"
    )
    assert [c.as_of for c in parse_statement(text).counts] == ["2024-12-31", "2024-12-31"]


def test_an_as_of_date_after_the_figure_in_the_same_sentence() -> None:
    count = only(parse_statement("累计748款生成式人工智能服务完成备案（截至2025年12月31日）。"))
    assert count.as_of == "2025-12-31"


def test_the_as_of_date_carries_into_later_sentences_of_the_paragraph() -> None:
    text = (
        "截至2024年12月31日，共有302款生成式人工智能服务完成备案。共有105款生成式人工智能应用"
        "或功能完成登记。"
    )
    assert [c.as_of for c in parse_statement(text).counts] == ["2024-12-31", "2024-12-31"]


def test_two_as_of_dates_in_two_sentences() -> None:
    text = (
        "截至2024年12月31日，共有302款生成式人工智能服务完成备案。"
        "截至2025年6月30日，累计400款生成式人工智能服务完成备案，其中2025年新增备案98款。"
        "累计200款生成式人工智能应用或功能完成登记。"
    )
    parsed = parse_statement(text)
    assert [(c.figure, c.as_of, c.year) for c in parsed.counts] == [
        (302, "2024-12-31", None),
        (400, "2025-06-30", None),
        (98, "2025-06-30", 2025),
        (200, "2025-06-30", None),
    ]


def test_a_second_as_of_date_within_one_sentence() -> None:
    text = (
        "截至2024年12月31日，共有302款生成式人工智能服务完成备案；截至2025年6月30日，累计400款"
        "生成式人工智能服务完成备案。"
    )
    assert [c.as_of for c in parse_statement(text).counts] == ["2024-12-31", "2025-06-30"]


def test_the_as_of_date_does_not_carry_into_another_paragraph() -> None:
    first = "截至2024年12月31日，共有302款生成式人工智能服务完成备案。"
    second = "累计105款生成式人工智能应用或功能完成登记。"
    for separator in ["\n", "\n\n", "\r\n", "\r\n\r\n", "\u2029", "\n \n"]:
        parsed = parse_statement(first + separator + second)
        assert [c.as_of for c in parsed.counts] == ["2024-12-31", None], repr(separator)


# ---------------------------------------------------------------- what is counted


@pytest.mark.parametrize(
    ("text", "counted", "subject"),
    [
        ("截至2024年底，共有302个生成式人工智能服务完成备案。", "filed", SERVICES),
        ("截至2024年底，共有302款生成式人工智能服务已备案。", "filed", SERVICES),
        ("截至2024年底，共有302款生成式人工智能服务通过备案。", "filed", SERVICES),
        ("截至2024年底，共有105款生成式人工智能应用或功能已登记。", "registered", APPS),
        ("截至2024年底，共有200家企业完成备案。", "filed_companies", "企业"),
        ("截至2024年底，共有200家企业的生成式人工智能服务完成备案。", "filed_companies",
         "企业的生成式人工智能服务"),
        ("截至2024年底，累计注销备案30款生成式人工智能服务。", "filing_cancelled", SERVICES),
        ("截至2024年底，累计30款生成式人工智能应用或功能被注销登记。", "registration_cancelled",
         "生成式人工智能应用或功能被"),
    ],
)  # fmt: skip
def test_what_is_counted(text: str, counted: str, subject: str) -> None:
    count = only(parse_statement(text))
    assert (count.counted, count.subject) == (counted, subject)


def test_companies_behind_a_count() -> None:
    text = "截至2024年底，共有302款生成式人工智能服务完成备案，涉及200家企业。"
    services, companies = parse_statement(text).counts
    assert (services.counted, services.figure) == ("filed", 302)
    assert (companies.counted, companies.subject) == ("filed_companies", "企业")
    assert companies.figure == 200
    assert (companies.as_of, companies.measure) == ("2024-12-31", CUMULATIVE)
    assert companies.sentence == "涉及200家企业"


def test_registering_apps_that_call_filed_models_is_registration() -> None:
    text = "截至2024年底，共有105款调用已备案模型能力的" + APPS + "在地方网信办完成登记。"
    count = only(parse_statement(text))
    assert (count.counted, count.subject) == ("registered", "调用已备案模型能力的" + APPS)


def test_a_subject_that_is_not_written_is_inherited_or_empty() -> None:
    text = "截至2024年12月31日，共有302款生成式人工智能服务完成备案。2024年新增备案238款。"
    assert [c.subject for c in parse_statement(text).counts] == [SERVICES, SERVICES]
    assert only(parse_statement("截至2024年12月31日，累计备案302款。")).subject == ""


# ---------------------------------------------------------------- punctuation and line breaks


def test_half_width_punctuation() -> None:
    half = REAL_2025.replace("，", ",").replace("；", ";").replace("。", ".")
    parsed = parse_statement(half)
    assert parsed == parse_statement(REAL_2025)


def test_mixed_punctuation_and_a_half_width_full_stop() -> None:
    text = (
        REAL_2026.replace("，", ",", 1).replace("。", ".")
        + "截至2026年6月30日;累计900款"
        + "生成式人工智能服务完成备案."
    )
    assert [(c.figure, c.as_of) for c in parse_statement(text).counts] == [
        (748, "2025-12-31"), (435, "2025-12-31"), (900, "2026-06-30")]  # fmt: skip


def test_line_breaks_inside_sentences() -> None:
    wrapped = (
        "截至2024年12\n月31日，共有3\n02款生成式人工智能服务在国家网信办完成\n备案，其中2024年新增"
        "备案238款；\n对于通过API接口或其他方式直接调用已备案模型能力的生成式人工智能应用或功能，"
        "2024年共有105款生成式人工智能应用或\r\n功能在地方网信办完成登记。"
    )
    parsed = parse_statement(wrapped)
    expected = parse_statement(REAL_2025)
    assert facts(parsed) == facts(expected)
    assert parsed.counts[0].sentence == "共有3\n02款生成式人工智能服务在国家网信办完成\n备案"


def test_a_dot_inside_an_address_or_a_number_does_not_end_a_sentence() -> None:
    text = "截至2024年12月31日，详见beian.cac.gov.cn，共有302款生成式人工智能服务完成备案。"
    assert only(parse_statement(text)).as_of == "2024-12-31"


# ---------------------------------------------------------------- what is not a count


@pytest.mark.parametrize("text", QUIET_PARAGRAPHS)
def test_paragraphs_without_figures(text: str) -> None:
    assert parse_statement(text, "2025-03-01") == ParsedStatement([], [])


def test_enforcement_news_is_not_a_count_of_filings() -> None:
    # Decided: with no 备案/登记 in the sentence, 59家 is not a filing count at all — nothing
    # is returned, not even as unparsed; with 备案 in it, an enforcement verb makes it unparsed.
    assert parse_statement("督促59家平台优化算法推荐机制") == ParsedStatement([], [])
    text = "截至2024年底，督促59家平台完成算法备案"
    assert parse_statement(text) == ParsedStatement([], [text])


@pytest.mark.parametrize(
    "text",
    [
        "2024年，第十二批深度合成服务算法备案信息中30%为API调用。",
        "根据《生成式人工智能服务管理暂行办法》第十七条第一款，提供者应当履行备案手续。",
        "请在3个月内完成备案，10个工作日内办理登记。",
        "每一款生成式人工智能服务都应完成备案，任何一家企业不得例外。",
        "属地网信部门应在2024年12月31日前完成登记工作。",
        "百家号等平台应在显著位置公示备案编号。",
        "模型DeepSeek-V3款式升级后重新备案。",
    ],
)
def test_numbers_that_are_not_counts(text: str) -> None:
    assert parse_statement(text, "2025-01-08") == ParsedStatement([], [])


@pytest.mark.parametrize(
    "text",
    [
        "截至2024年底，超过300款生成式人工智能服务完成备案",
        "截至2024年底，300余款生成式人工智能服务完成备案",
        "截至2024年底，近300款生成式人工智能服务完成备案",
        "截至2024年底，数十家企业完成备案",
        "现公开发布第十二批境内深度合成服务算法备案信息，共有50款深度合成服务算法完成备案",
        "本批共有50款生成式人工智能服务完成备案",
        "2024年12月新增备案20款生成式人工智能服务",
        "近3个月新增备案20款生成式人工智能服务",
        "截至2024年底，仍有20款生成式人工智能服务尚未完成备案",
        "截至2024年底，共有302款生成式人工智能服务完成备案和登记",
        "其中，北京地区105款，已完成备案",
        "截至2024年底，共有302款生成式人工智能服务完成备案，覆盖31个省份",
        "截至2024年底，共有3.5款生成式人工智能服务完成备案",
    ],
)
def test_counts_that_cannot_be_read_go_to_unparsed(text: str) -> None:
    parsed = parse_statement(text + "。")
    assert parsed.unparsed == [text]
    assert all(count.figure != 20 and count.figure != 50 for count in parsed.counts)


def test_the_rest_of_a_sentence_is_still_read() -> None:
    text = "截至2024年底，共有302款生成式人工智能服务完成备案，覆盖31个省份。"
    parsed = parse_statement(text)
    assert figures(parsed) == [302]
    assert parsed.unparsed == [text.rstrip("。")]


def test_a_batch_total_that_says_cumulative_is_a_total() -> None:
    text = "现公开发布第十二批深度合成服务算法备案信息，累计备案深度合成服务算法2000款。"
    count = only(parse_statement(text))
    assert (count.measure, count.figure, count.subject) == (CUMULATIVE, 2000, "深度合成服务算法")


# ---------------------------------------------------------------- fuzzing

CN_CLASS = "零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟萬億"
_TEST_WIDTH = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}


def numbers_in(sentence: str) -> set[int]:
    """Every value any run of digits or Chinese numerals in `sentence` can be read as."""
    compact = "".join(ch for ch in sentence if not ch.isspace()).translate(_TEST_WIDTH)
    compact = "".join(ch for ch in compact if unicodedata.category(ch) != "Cf")
    values: set[int] = set()
    for run in re.findall(rf"[0-9,{CN_CLASS}]+", compact):
        for i in range(len(run)):
            for j in range(i + 1, len(run) + 1):
                value = chinese_numeral(run[i:j])
                if value is not None:
                    values.add(value)
    return values


def check_invariants(text: str, parsed: ParsedStatement) -> None:
    for count in parsed.counts:
        assert count.sentence and count.sentence in text
        assert count.figure in numbers_in(count.sentence), count
        assert count.measure in (CUMULATIVE, NEW_IN_YEAR)
        assert (count.year is None) == (count.measure == CUMULATIVE)
        assert count.as_of is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", count.as_of)
        assert count.counted.split("_")[0] in ("filed", "registered", "filing", "registration")
    for sentence in parsed.unparsed:
        assert sentence and sentence in text
    assert len(set(parsed.unparsed)) == len(parsed.unparsed)


ALPHABET = st.sampled_from(
    list(set(REAL_2025 + REAL_2026 + CN_CLASS + "0123456789０１２３４５６７８９,;.!?:，；。！？：、"
             "（）()%％款个家第批截止至到底末月日号年共有累计新增总合计超余多约近督促尚未注销涉及"
             "\n\r\t \u3000\u2029\u200b\x00"))
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(), st.one_of(st.none(), st.text(max_size=12), st.dates().map(str)))
def test_never_raises_on_any_text(text: str, published_on: str | None) -> None:
    check_invariants(text, parse_statement(text, published_on))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(ALPHABET, max_size=300), st.one_of(st.none(), st.dates().map(str)))
def test_never_raises_on_statement_like_text(text: str, published_on: str | None) -> None:
    check_invariants(text, parse_statement(text, published_on))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([REAL_2025, REAL_2026, REAL_2025 + "\n" + REAL_2026]))
    for _ in range(draw(st.integers(0, 8))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 6)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.text(ALPHABET, min_size=1, max_size=4))
        if edit == "insert":
            text = text[:i] + piece + text[i:]
        elif edit == "delete":
            text = text[:i] + text[j:]
        else:
            text = text[:i] + piece + text[j:]
    return text


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.one_of(st.none(), st.just("2025-01-08"), st.just("2026-01-09")))
def test_mutations_of_the_real_sentences(text: str, published_on: str | None) -> None:
    check_invariants(text, parse_statement(text, published_on))


def render(n: int, style: str) -> str:
    if style == "digits":
        return str(n)
    if style == "full_width":
        return str(n).translate(FULL_WIDTH)
    if style == "thousands":
        return f"{n:,}"
    return cn(n)


def render_year(year: int, style: str) -> str:
    return (
        "".join("〇一二三四五六七八九"[int(d)] for d in str(year))
        if style == "chinese"
        else render(year, "digits" if style == "thousands" else style)
    )


@settings(max_examples=300)
@given(
    total=st.integers(1, 10**7),
    new=st.integers(1, 10**7),
    registered=st.integers(1, 10**7),
    year=st.integers(2000, 2099),
    style=st.sampled_from(["digits", "full_width", "thousands", "chinese"]),
    full_width_punctuation=st.booleans(),
    breaks=st.lists(st.integers(0, 10**4), max_size=5),
)
def test_generated_statements_are_read_exactly(
    total: int, new: int, registered: int, year: int, style: str,
    full_width_punctuation: bool, breaks: list[int],
) -> None:  # fmt: skip
    y = render_year(year, style)
    month = "十二月三十一日" if style == "chinese" else "12月31日"
    comma, semicolon, stop = ("，", "；", "。") if full_width_punctuation else (",", ";", ".")
    text = (
        f"截至{y}年{month}{comma}共有{render(total, style)}款{SERVICES}在国家网信办完成备案{comma}"
        f"其中{y}年新增备案{render(new, style)}款{semicolon}对于通过API接口或其他方式直接调用"
        f"已备案模型能力的{APPS}{comma}{y}年共有{render(registered, style)}款{APPS}在地方网信办"
        f"完成登记{stop}"
    )
    # Line breaks anywhere inside the sentence (a blank line would end the paragraph).
    for i in sorted({position % (len(text) - 1) + 1 for position in breaks}, reverse=True):
        text = text[:i] + "\n" + text[i:]
    parsed = parse_statement(text)
    as_of = f"{year}-12-31"
    assert parsed.unparsed == []
    assert facts(parsed) == [
        (total, as_of, None, CUMULATIVE, "filed", SERVICES),
        (new, as_of, year, NEW_IN_YEAR, "filed", SERVICES),
        (registered, as_of, year, NEW_IN_YEAR, "registered", APPS),
    ]
    check_invariants(text, parsed)
