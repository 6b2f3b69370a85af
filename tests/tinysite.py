"""A tiny stand-in for www.cac.gov.cn, made by the tests, so that the whole pipeline is proven
even where ../shared/cac-replica is absent.

It has what the scrapers rely on and the traps of the real site: a column with two list pages
(and a 404 after them), item links in https://, //… and http:// forms with titles cut short in
the link text, a distractor announcement (区块链信息服务备案) with its own attachment, the
in-place algorithm page with two 附件 lines, one deep-synthesis announcement per batch (the
first without 第N批), and a download endpoint that answers an empty 200 without a Referer and
an HTML error page for an unknown file. The four Word lists are generated with docx_fixtures.

    with serve_site() as site:
        site.url            # http://127.0.0.1:PORT
        site.requests       # every request: (path, headers)
        site.options.waf = True   # from now on every answer is the WAF block page
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

from cac_filings.normalize import suanbei_check_digit
from tests.docx_fixtures import Row, Table, cell, make_docx, row
from tests.pdf_fixtures import PdfTable, make_pdf

ALGO_PAGE = "/2022-08/12/c_1661927474338504.htm"
DS1_PAGE = "/2023-06/20/c_1688910683316256.htm"
DS2_PAGE = "/2023-09/01/c_1695224377544009.htm"
CHAIN_PAGE = "/2023-06/29/c_1688573576313252.htm"
NEWS_PAGE = "/2023-07/01/c_1688000000000001.htm"
GENAI_PAGE = "/2024-04/02/c_1713729983803145.htm"
DOWNLOAD = "/cms/pub/interact/downloadfile.jsp"
NOTICES = "/api/notice/list"
NOTICE_FILE = "/api/file/fileDownLoad"
CANCELLATION_ID = "notice_93606d70-c5f7"
ALGO_TITLE = "境内互联网信息服务算法备案清单（{}）"
DS_TITLE = "境内深度合成服务算法备案清单（{}）"

GENAI_FILING_HEADER = ("序号", "属地", "大模型名称", "备案单位", "备案编号", "备案时间")
GENAI_REGISTRATION_HEADER = ("序号", "属地", "应用/功能名称", "登记单位", "上线编号", "登记时间")
CANCELLATION_HEADER = ("序号", "算法名称", "角色", "主体名称", "应用产品", "主要用途", "备案编号",
                       "注销时间")
ALGO_HEADER = ("序号", "算法名称", "算法类别", "主体名称", "应用产品", "主要用途", "备案编号",
               "备注")
DS_HEADER = ("序号", "算法名称", "角色", "主体名称", "应用产品", "主要用途", "备案编号", "备注")

WAF_PAGE = ("<html><head><title>访问被拦截</title></head><body>当前访问疑似黑客攻击，已被网站管理员"
            "设置为拦截。知道创宇云防御</body></html>").encode()
JSP_MISSING = "<html><body>对不起，您要下载的文件不存在或已被删除！</body></html>".encode()


def number(prefix13: str, category: str, year: str, sequence: int) -> str:
    """A 网信算备 number with a correct check digit."""
    first20 = f"{prefix13}{category}{year}{sequence:03d}"
    return f"网信算备{first20}{suanbei_check_digit(first20)}号"


DOUYIN = number("1101088234839", "02", "22", 1)  # listed in both algorithm batches
BAIDU = number("1101081234567", "04", "22", 2)
KUAISHOU = number("1101080000004", "02", "23", 5)
LONG = "网信算备1101082242366066220017号"  # 22 digits, as published in 2022年8月
DS_A = number("1101088234839", "01", "23", 15)
DS_B = number("3101150000001", "01", "23", 3)
DS_C = number("4403050000002", "01", "23", 7)
DS_D = number("3301100000003", "01", "23", 9)


def algorithm_lists(edited: bool = False, new_category: bool = False,
                    header_only: bool = False, company_changed: bool = False
                    ) -> dict[str, bytes]:
    first = Table((
        row(*ALGO_HEADER, header=True),
        row("1", "抖音推荐算法", "个性化推送类", "北京抖音信息服务有限公司",
            "抖音（APP）、抖音极速版(APP)", "应用于信息推荐场景。", DOUYIN, ""),
        row("2", "百度搜索算法", "检索过滤类", "北京百度网讯科技有限公司", "百度（APP、网站）",
            "应用于搜索场景。", BAIDU, "2023年8月更新应用产品" if edited else ""),
    ))
    second = Table((
        row(*ALGO_HEADER, header=True),
        row("1", "抖音推荐算法", "个性化推送类",
            "北京某某网络技术有限公司" if company_changed else "北京抖音信息服务有限公司",
            "抖音（APP）", "应用于信息推荐场景。", DOUYIN + "\n",
            "" if company_changed else
            "原主体名称“北京微播视界科技有限公司”变更为“北京抖音信息服务有限公司”"),
        row("2", "微信搜一搜算法", "智能体调度类" if new_category else "检索过滤类",
            "腾讯科技(深圳)有限公司", "微信（APP）",
            "应用于搜索场景。", LONG, ""),
    ))
    third = Table((
        row(*ALGO_HEADER, header=True),
        row("1", "快手推荐算法", "个性化推送类", "北京快手科技有限公司", "快手（APP）",
            "应用于信息推荐场景。", KUAISHOU, ""),
    ))
    if header_only:
        second = Table(second.rows[:1])
    return {"alg1": make_docx([first]), "alg2": make_docx([second]), "alg3": make_docx([third])}


# Generative-AI numbers, with the source's known errors: a swapped name/company row, a
# registration number in the 备案 table, a Beijing number with 属地 江苏省, a truncated number.
WENXIN = "Beijing-WenXinYiYan-20230821"
DOUBAO = "Beijing-DouBao-202404280001"
SWAPPED = "Guangdong-ZhiNengZhuLi-202503050027"
MISFILED = "Shanghai-XiaoZhi-20240428S0002"
BIANYING = "Beijing-BianYing-20240428S0001"
MISMATCH = "Beijing-CarrotAI-202407030002"
TRUNCATED = "Jiangsu-SiWeiXiangLiangZhiSuanYun-"


def genai_list() -> bytes:
    filings = Table((
        row(*GENAI_FILING_HEADER, header=True),
        row("1", "北京市", "文心一言", "北京百度网讯科技有限公司", WENXIN, "2023/8/31"),
        row("2", "北京市", "豆包", "北京字节跳动科技有限公司", DOUBAO, "2024/5/6"),
        row("3", "广东省", "广东智媒云图科技股份有限公司", "智能助理（井然）大模型", SWAPPED,
            "2025/4/10"),
        row("4", "上海市", "小智助手", "上海某某智能科技有限公司", MISFILED, "2024/5/6"),
        row("5", "江苏省", "思维向量智算云", "江苏思维向量科技有限公司", TRUNCATED, "2024/8/1"),
        row("6", "江苏省", "胡萝卜AI", "江苏胡萝卜科技有限公司", MISMATCH, "2024/7/3"),
    ))
    registrations = Table((
        row(*GENAI_REGISTRATION_HEADER, header=True),
        row("1", "北京市", "剪映AI", "北京抖音信息服务有限公司", BIANYING, "2024/5/6（补登）"),
    ))
    title = "生成式人工智能服务已备案和已登记信息（2024年8月）"
    return make_docx([filings, registrations], before=("附件2", title))


def cancellation_pdf() -> bytes:
    """A notice cancelling two numbers, its first row split by a page break."""
    rows = [
        ("1", "视频生成算法", "服务提供者", "杭州某某智能有限公司", "某某视频（APP）",
         "应用于视频生成场景。", DS_D, "2025年7月"),
        ("2", "百度搜索算法", "检索过滤类", "北京百度网讯科技有限公司", "百度（APP、网站）",
         "应用于搜索场景，根据用户输入的查询词，检索并返回相关的网页、图片和视频等信息。", BAIDU,
         "2025年7月"),
    ]
    return make_pdf([PdfTable(CANCELLATION_HEADER, rows)], title="关于注销算法备案编号的公告",
                    rows_per_page=(1, 1), split_rows=True)


def deep_synthesis_lists(extra_header: bool = False, shrink: bool = False) -> dict[str, bytes]:
    first = Table((
        row(*DS_HEADER, header=True),
        row("1", "豆包大模型算法", "服务提供者", "北京抖音信息\u200b服务有限公司", "抖音（APP）",
            cell("应用于对话生成场景，", "根据用户输入生成文本。"), DS_A, ""),
        row("2", "智能客服算法", "服务技术支持者", "上海某某科技有限公司", "--",
            "应用于客服场景。", DS_B, ""),
    ))
    # The 2nd list: Word auto-numbering, 主要用途 spanning two grid columns, and the header row
    # repeated where Word broke the table across pages.
    header = (*DS_HEADER, "备案日期") if extra_header else DS_HEADER

    def spanned(*cells: str, is_header: bool = False, numbered: bool = True) -> Row:
        built = [cell(c) for c in cells]
        built[0] = cell("", numbered=True) if numbered and not is_header else built[0]
        built[5] = cell(cells[5], grid_span=2)
        return Row(cells=tuple(built), header=is_header)

    extra = ("2023-08-01",) if extra_header else ()
    second = Table((
        spanned(*header, is_header=True),
        spanned("", "图像生成算法", "服务提供者", "深圳某某网络有限公司", "某某画图（小程序）",
                "应用于图像生成场景。", DS_C, "", *extra),
        spanned(*header, numbered=False),
        *([] if shrink else [spanned("", "视频生成算法", "服务提供者", "杭州某某智能有限公司",
                                     "某某视频（APP）等", "应用于视频生成场景。", DS_D, "已注销",
                                     *extra)]),
    ), grid_cols=len(header) + 1)
    return {"ds1": make_docx([first]), "ds2": make_docx([second])}


@dataclass
class Options:
    waf: bool = False
    broken_layout: bool = False  # articles lose their #BodyLabel
    # Pages keep one ETag whatever their body (a CDN rewriting pages, passing upstream's on).
    constant_etag: bool = False
    extra_header: bool = False  # the 2nd deep-synthesis list gains an unknown column
    third_attachment: bool = False  # 附件3 appears on the in-place algorithm page
    cancellation: bool = False  # the notice board publishes a cancellation notice
    # The 2nd deep-synthesis list replaced by a hostile or broken file: "truncated" (half a
    # docx, full Content-Length announced), "zipbomb", "dtd" (billion laughs), "huge" (a
    # valid docx padded to 2 MB), "foreign" (its link points to another host), "html" (the
    # JSP's missing-file page), "injection" (script and formula text in names).
    hostile: str | None = None
    shrink: bool = False  # the 2nd deep-synthesis list loses one of its two rows
    new_category: bool = False  # a row of the 2nd algorithm list has an unheard-of 算法类别
    edited: bool = False  # 附件1 is re-uploaded, same URL, with a new 备注 for one row
    unlinked: bool = False  # 附件2 is no longer on the in-place algorithm page
    click_here: bool = False  # the algorithm page's link texts become 点击下载
    header_only: bool = False  # 附件2 is re-uploaded with its header row alone
    company_changed: bool = False  # 附件2 lists 抖音推荐算法's number under another company
    slow_downloads: float = 0.0  # seconds each download waits before answering
    vague_statement: bool = False  # the annual summary adds a total it states vaguely
    # The site after the replica's last date, in layouts it does not show (see drift_files):
    # an xlsx algorithm list with headers written differently, a corrupt new attachment, a
    # deep-synthesis batch with an extra column and one whose 备案编号 column is misnamed, and
    # the 2026年8月 generative-AI PDF with its on-device table, also announced in the column.
    drift: bool = False
    drift_fixed: bool = False  # the corrupt attachment is served whole again
    # One page or file failing on its own: a page path (DS2_PAGE) or a download's filepath
    # ("BBB/ds2=") → "500" (HTTP 500), "waf" (the WAF block page) or "layout" (an article
    # without its #BodyLabel).
    failing: dict[str, str] = field(default_factory=dict)
    # Extra 附件 lines on the in-place algorithm page: (filepath, title) → a file of the tiny
    # site's (a key of algorithm_lists(): "alg1", "alg2", "alg3").
    extra_algo_links: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class TinySite:
    url: str
    options: Options = field(default_factory=Options)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def _link(filepath: str, title: str, text: str | None = None) -> str:
    return (f'<a href="{DOWNLOAD}?filepath={filepath}&amp;fText={quote(title)}">'
            f'{text or title}</a>')


def _article(title: str, day: str, body: str, broken: bool) -> str:
    y, m, d = day.split("-")
    body_div = "" if broken else f'<div id="BodyLabel">{body}</div>'
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f'<body><div class="bread">首页 &gt; 网信发布</div>'
            f'<div class="main-title"><h1 class="title">{title}</h1><div class="info">'
            f'<span id="pubtime">{y}年{m}月{d}日 10:00</span><span id="source">来源：中国网信网'
            f'</span></div></div><div class="main-content">{body_div}</div>'
            f'<script>var _pagestat = 1;</script></body></html>')


def _column(items: list[tuple[str, str, str]], page: int, pages: int) -> str:
    lis = "".join(
        f'<li><h5><a href="{href}" title="{title}" target="_blank">'
        f'{title[:28] + "..." if len(title) > 28 else title}</a></h5>'
        f'<div class="times">{day}</div></li>' for href, title, day in items)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
            f'<div class="list_con"><div id="loadingInfoPage">{lis}</div></div>'
            f'<script>createPageHTML({pages}, {page}, "A093702index", "htm");</script>'
            f'</body></html>')


DS3_PAGE = "/2026-08/20/c_1755000000000003.htm"
DS4_PAGE = "/2026-08/20/c_1755000000000004.htm"
GENAI_OWN_PAGE = "/2026-09/05/c_1757000000000005.htm"
GENAI_2026 = "生成式人工智能服务已备案和已登记信息（2026年8月）"
DRIFT_ALGO = "AAA/alg2026=", ALGO_TITLE.format("2026年8月")
DRIFT_CORRUPT = "AAA/alg2026b=", ALGO_TITLE.format("2026年9月")
ON_DEVICE_HEADER = ("序号", "属地", "大模型名称", "备案单位", "备案编号", "备案时间", "适用场景")
XIAOHONGSHU = number("3101150000009", "02", "26", 11)
DS_E = number("4403050000008", "01", "26", 21)
DS_F = number("1101080000007", "01", "26", 23)


def _drift_pages(options: Options, broken: bool) -> dict[str, str]:
    ds3 = "国家互联网信息办公室关于发布第三批深度合成服务算法备案信息的公告"
    ds4 = "国家互联网信息办公室关于发布第四批深度合成服务算法备案信息的公告"
    own = "国家互联网信息办公室关于发布生成式人工智能服务已备案信息的公告（2026年7月至8月）"
    return {
        DS3_PAGE: _article(ds3, "2026-08-20", "<p>附件：" + _link(
            "BBB/ds3=", DS_TITLE.format("2026年8月")) + "</p>", broken),
        DS4_PAGE: _article(ds4, "2026-08-20", "<p>附件：" + _link(
            "BBB/ds4=", DS_TITLE.format("2026年9月")) + "</p>", broken),
        GENAI_OWN_PAGE: _article(own, "2026-09-05", "<p>附件：" + _link(
            "DDD/genai2026=", GENAI_2026) + "</p>", broken),
    }


def drift_column_items() -> list[tuple[str, str, str]]:
    return [
        (f"https://www.cac.gov.cn{GENAI_OWN_PAGE}",
         "国家互联网信息办公室关于发布生成式人工智能服务已备案信息的公告（2026年7月至8月）",
         "2026-09-05"),
        (f"https://www.cac.gov.cn{DS4_PAGE}",
         "国家互联网信息办公室关于发布第四批深度合成服务算法备案信息的公告", "2026-08-20"),
        (f"https://www.cac.gov.cn{DS3_PAGE}",
         "国家互联网信息办公室关于发布第三批深度合成服务算法备案信息的公告", "2026-08-20"),
    ]


def drift_files(fixed: bool) -> dict[str, bytes]:
    """The files of the drifted site, as CAC might publish them after the replica's date."""
    from tests.xlsx_fixtures import SheetSpec, make_xlsx

    # An xlsx list: a title merged across the sheet, headers with a colon, a full-width colon,
    # a Kangxi radical (⽤, U+2F64) and a line break, 序号 as numbers, trailing empty rows.
    title = ALGO_TITLE.format("2026年8月")
    header: list[object] = ["序号：", "算法名称", "算法类别:", "主体\n名称", "应⽤产品", "主要用途",
                            "备案编号", "备注"]
    sheet: list[list[object]] = [
        [title] + [None] * 7, header,
        [1, "小红书推荐算法", "个性化推送类", "行吟信息科技（上海）有限公司", "小红书（APP）",
         "应用于信息推荐场景。", XIAOHONGSHU, ""],
        [None] * 8, [None] * 8]
    algo_2026 = make_xlsx([SheetSpec("清单", sheet, merges=["A1:H1"])])  # type: ignore[arg-type]
    corrupt = algorithm_lists()["alg3"]
    # An extra column nobody maps; and a batch whose 备案编号 column is called 备案号码.
    ds3 = make_docx([Table((
        row(*DS_HEADER, "上线日期", header=True),
        row("1", "智能配音算法", "服务提供者", "深圳某某声音科技有限公司", "某某配音（APP）",
            "应用于语音合成场景。", DS_E, "", "2026-08-01"),
    ))])
    ds4 = make_docx([Table((
        row(*(h if h != "备案编号" else "备案号码" for h in DS_HEADER), header=True),
        row("1", "数字人算法", "服务提供者", "北京某某数字人科技有限公司", "某某数字人（APP）",
            "应用于数字人生成场景。", DS_F, ""),
    ))])
    filings = [[str(n), "北京市", f"心影{n}", "北京心影随形科技有限公司",
                f"Beijing-XinYing-20260318{n:04d}", "2026/4/10"] for n in range(1, 4)]
    on_device = [[str(n), "广东省", f"端侧模型{n}", "广东某某智能科技有限公司",
                  f"Guangdong-DuanCe-20260801{n:04d}", "2026/8/1", "手机等智能终端"]
                 for n in range(1, 3)]
    registrations = [["1", "上海市", "派生万物助手", "上海派生万物智能科技有限公司",
                      "Shanghai-PaiSheng-20260512S0001", "2026/5/12"]]
    genai = make_pdf([
        PdfTable(GENAI_FILING_HEADER, filings, [5, 8, 16, 22, 30, 11]),
        PdfTable(ON_DEVICE_HEADER, on_device, [3, 6, 14, 20, 28, 10, 5]),
        PdfTable(GENAI_REGISTRATION_HEADER, registrations, [5, 8, 16, 22, 30, 11]),
    ], title=GENAI_2026)
    return {DRIFT_ALGO[0]: algo_2026,
            DRIFT_CORRUPT[0]: corrupt if fixed else corrupt[: len(corrupt) // 2],
            "BBB/ds3=": ds3, "BBB/ds4=": ds4, "DDD/genai2026=": genai}


ANNUAL_PAGE = "/2025-01/08/c_1738034725920930.htm"
ANNUAL_TITLE = "国家互联网信息办公室关于发布2024年生成式人工智能服务已备案信息的公告"
# Totals as CAC states them in its annual summary: in Chinese numerals, and one of them (3
# registrations in 2024, where the lists hold 2) that disagrees with the lists.
ANNUAL_TEXT = ("截至2024年12月31日，共有四款生成式人工智能服务在国家网信办完成备案，其中2024年新增"
               "备案三款；对于通过API接口或其他方式直接调用已备案模型能力的生成式人工智能应用或功能，"
               "2024年共有3款生成式人工智能应用或功能在地方网信办完成登记。")


def _pages(options: Options) -> dict[str, str]:
    broken = options.broken_layout
    ds1_title = "国家互联网信息办公室关于发布深度合成服务算法备案信息的公告"
    ds2_title = "国家互联网信息办公室关于发布第二批深度合成服务算法备案信息的公告"
    chain_title = "国家互联网信息办公室关于发布第十一批境内区块链信息服务备案编号的公告"
    algo_title = "国家互联网信息办公室关于发布互联网信息服务算法备案信息的公告"
    return {
        "/wxzw/wxfb/A093702index_1.htm": _column([
            *(drift_column_items() if options.drift else []),
            (f"https://www.cac.gov.cn{ANNUAL_PAGE}", ANNUAL_TITLE, "2025-01-08"),
            (f"https://www.cac.gov.cn{NEWS_PAGE}",
             "江西省网信办召开生成式人工智能服务备案工作座谈会", "2023-09-02"),
            (f"//www.cac.gov.cn{DS2_PAGE}", ds2_title, "2023-09-01"),
            (f"http://www.cac.gov.cn{CHAIN_PAGE}", chain_title, "2023-06-29"),
        ], 1, 2),
        "/wxzw/wxfb/A093702index_2.htm": _column([
            (f"https://www.cac.gov.cn{DS1_PAGE}", ds1_title, "2023-06-20"),
            (f"https://www.cac.gov.cn{ALGO_PAGE}", algo_title, "2022-08-12"),
        ], 2, 2),
        ALGO_PAGE: _article(algo_title, "2022-08-12", "".join([
            "<p>根据《互联网信息服务算法推荐管理规定》，现公开发布……</p>",
            "<p>附件1：", _link("AAA/alg1~x=", ALGO_TITLE.format("2022年8月"),
                              "点击下载" if options.click_here else None), "</p>",
            *(["<p>附件2：", _link("AAA/alg2~y=", ALGO_TITLE.format("2022年10月"),
                                 "点击下载" if options.click_here else None), "</p>"]
              if not options.unlinked else []),
            *(["<p>附件3：", _link("AAA/alg3=", ALGO_TITLE.format("2023年1月")), "</p>"]
              if options.third_attachment else []),
            *(["<p>附件4：", _link(*DRIFT_ALGO), "</p><p>附件5：", _link(*DRIFT_CORRUPT),
               "</p>"] if options.drift else []),
            *(f"<p>附件：{_link(filepath, title)}</p>"
              for filepath, title in options.extra_algo_links),
        ]), broken),
        DS1_PAGE: _article(ds1_title, "2023-06-20",
                           "<p>根据《互联网信息服务深度合成管理规定》……</p><p>附件</p><p>"
                           + _link("BBB/ds1=", DS_TITLE.format("2023年6月")) + "</p>",
                           broken),
        DS2_PAGE: _article(ds2_title, "2023-09-01",
                           "<p>现公开发布第二批境内深度合成服务算法备案信息……</p><p>附件：" +
                           (f'<a href="https://files.evil.example{DOWNLOAD}?filepath=BBB/ds2='
                            f'">{DS_TITLE.format("2023年8月")}</a>'
                            if options.hostile == "foreign" else
                            _link("BBB/ds2=", DS_TITLE.format("2023年8月"))) + "</p>",
                           broken),
        GENAI_PAGE: _article("国家互联网信息办公室关于发布生成式人工智能服务已备案信息的公告",
                             "2024-04-02", "<p>附件1：" + _link(
                                 "DDD/genai=", "生成式人工智能服务已备案和已登记信息（2024年8月）")
                             + "</p>" + ("<p>附件2：" + _link("DDD/genai2026=", GENAI_2026)
                                         + "</p>" if options.drift else ""), broken),
        **(_drift_pages(options, broken) if options.drift else {}),
        CHAIN_PAGE: _article(chain_title, "2023-06-29", "<p>附件：" + _link(
            "CCC/chain=", "境内区块链信息服务备案清单（第十一批）") + "</p>", broken),
        NEWS_PAGE: _article("座谈会", "2023-09-02", "<p>会议指出……</p>", broken),
        ANNUAL_PAGE: _article(ANNUAL_TITLE, "2025-01-08", f"<p>{ANNUAL_TEXT}</p>" + (
            "<p>截至2025年6月，已有超过300款生成式人工智能服务完成备案。</p>"
            if options.vague_statement else "") + "<p>下一步，国家网信办将持续做好备案和登记"
            "工作。</p>", broken),
    }


def _notices(options: Options) -> bytes:
    datas: list[dict[str, object]] = [
        {"noticeId": "notice_ds2", "type": 3, "createTime": "2023-09-01 18:00:00",
         "title": "国家互联网信息办公室关于发布第二批深度合成服务算法备案信息的公告",
         "content": f"https://www.cac.gov.cn{DS2_PAGE}"},
        {"noticeId": "notice_maintenance", "type": 2, "createTime": "2023-08-01 09:00:00",
         "title": "关于系统维护的通知", "content": "系统将于今晚维护。"},
    ]
    if options.cancellation:
        datas.insert(0, {"noticeId": CANCELLATION_ID, "type": 1,
                         "createTime": "2025-07-14 16:05:12",
                         "title": "关于注销“视频生成算法”等2个算法备案编号的公告",
                         "content": "/static/fileUpload/notice/93606d70.pdf"})
    return json.dumps({"errno": 0, "errmsg": "", "datas": datas}, ensure_ascii=False).encode()


def hostile_file(kind: str) -> bytes:
    import io as _io
    import zipfile as _zipfile

    clean = deep_synthesis_lists()["ds2"]
    if kind == "truncated":
        return clean[: len(clean) // 2]
    if kind == "html":
        return JSP_MISSING
    buffer = _io.BytesIO()
    with _zipfile.ZipFile(_io.BytesIO(clean)) as source, \
            _zipfile.ZipFile(buffer, "w", _zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml" and kind == "zipbomb":
                data = data.replace(b"<w:body>", b"<w:body>" + b" " * 60_000_000, 1)
            if item.filename == "word/document.xml" and kind == "dtd":
                laughs = "".join(f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" * 10}">'
                                 for i in range(1, 10))
                data = data.replace(b"?>", b'?><!DOCTYPE w:document [<!ENTITY l0 "lol">'
                                    + laughs.encode() + b"]>", 1)
            target.writestr(item, data)
        if kind == "huge":
            info = _zipfile.ZipInfo("word/media/padding.bin")
            target.writestr(info, bytes(range(256)) * 8192, compress_type=_zipfile.ZIP_STORED)
    return buffer.getvalue()


INJECTION_COMPANY = '=HYPERLINK("http://evil.example/","点我")科技有限公司'
INJECTION_PRODUCT = "<script>alert('x')</script>（APP）"


def injection_list() -> bytes:
    return make_docx([Table((
        row(*DS_HEADER, header=True),
        row("1", "+SUM(A1:A9)算法", "服务提供者", INJECTION_COMPANY, INJECTION_PRODUCT,
            "@应用于生成场景。", DS_C, "-注意"),
        row("2", "视频生成算法", "服务提供者", "杭州某某智能有限公司", "某某视频（APP）等",
            "应用于视频生成场景。", DS_D, "已注销"),
    ))])


def _files(options: Options) -> dict[str, bytes]:
    files = {**algorithm_lists(options.edited, options.new_category, options.header_only,
                               options.company_changed),
             **deep_synthesis_lists(options.extra_header, options.shrink)}
    if options.hostile == "injection":
        files["ds2"] = injection_list()
    elif options.hostile and options.hostile != "foreign":
        files["ds2"] = hostile_file(options.hostile)
    if options.drift:
        files.update(drift_files(options.drift_fixed))
    files.update({filepath: files[name] for (filepath, _), name
                  in options.extra_algo_links.items()})
    return {**{k: v for k, v in files.items() if "/" in k},
            "AAA/alg1~x=": files["alg1"], "AAA/alg2~y=": files["alg2"],
            "AAA/alg3=": files["alg3"],
            "BBB/ds1=": files["ds1"], "BBB/ds2=": files["ds2"],
            "DDD/genai=": genai_list(),
            "CCC/chain=": make_docx([Table((row("序号", "名称", header=True), row("1", "链")))])}


def _handler(site: TinySite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str = "text/html",
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _failing(self, how: str | None, layout: str | None = None) -> bool:
            """Answer as `how` says (Options.failing), or return False to answer normally."""
            if how == "500":
                self._send(500, b"<html><body>500 Internal Server Error</body></html>")
            elif how == "waf":
                self._send(200, WAF_PAGE)
            elif how == "layout" and layout is not None:
                broken = _pages(Options(**{**vars(site.options), "broken_layout": True}))
                self._send(200, broken[layout].encode("utf-8"))
            else:
                return False
            return True

        def do_GET(self) -> None:  # the stdlib's name
            site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            options = site.options
            if options.waf:
                self._send(200, WAF_PAGE)
                return
            parts = urlsplit(self.path)
            if parts.path == NOTICES:
                self._send(200, _notices(options), "application/json;charset=UTF-8")
                return
            if parts.path == NOTICE_FILE:
                notice = parse_qs(parts.query).get("noticeId", [""])[0]
                if not self.headers.get("Referer"):
                    self._send(200, b"", "application/octet-stream")
                elif notice == CANCELLATION_ID and options.cancellation:
                    self._send(200, cancellation_pdf(), "application/octet-stream")
                else:
                    self._send(200, b'{"errno":500,"errmsg":"no file"}', "application/json")
                return
            if parts.path == DOWNLOAD:
                if options.slow_downloads:
                    time.sleep(options.slow_downloads)  # a stalling server, not a test wait
                if not self.headers.get("Referer"):
                    self._send(200, b"", "application/octet-stream")
                    return
                filepath = parse_qs(parts.query).get("filepath", [""])[0]
                if self._failing(options.failing.get(filepath)):
                    return
                body = _files(options).get(filepath)
                if body is None:
                    self._send(200, JSP_MISSING)
                else:
                    self._send(200, body, "application/octet-stream")
                return
            if self._failing(options.failing.get(parts.path), layout=parts.path):
                return
            page = _pages(options).get(parts.path)
            if page is None:
                self._send(404, b"<html><body>404 Not Found</body></html>")
                return
            body = page.encode("utf-8")
            etag = f'"{abs(hash(parts.path if options.constant_etag else body)) % 10**12}"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", extra={"ETag": etag})
                return
            self._send(200, body, extra={"ETag": etag,
                                         "Last-Modified": "Sat, 02 Sep 2023 02:00:00 GMT"})

    return Handler


@contextmanager
def serve_site(options: Options | None = None) -> Iterator[TinySite]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site := TinySite("")))
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    if options is not None:
        site.options = options
    # serve_forever looks for shutdown every poll_interval (0.5 s by default): every test
    # that serves the site would wait that long at its end.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
