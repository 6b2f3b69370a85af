"""Datasette's own words, in Chinese beside its English: its error messages, its filter
operators and the sentence a table page says what it shows by ("where list_kind =
"deep_synthesis" sorted by first_published_on descending"). Datasette 0.65 writes them in
datasette/views/*.py, datasette/filters.py and datasette/views/table.py; a message not known
here is shown as Datasette wrote it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# datasette/views/{base,database,table,row}.py and datasette/filters.py
ERRORS = {
    "Database not found": "没有这个数据库",
    "Table not found": "没有这个表",
    "Record not found": "没有这一行",
    "No data": "没有数据",
    "Invalid SQL": "SQL 语句无效",
    "Invalid database": "没有这个数据库",
    "Cannot download database": "无法下载这个数据库",
    "Cannot download in-memory databases": "无法下载内存数据库",
    "Cannot use _sort and _sort_desc at the same time": "不能同时使用 _sort 和 _sort_desc",
    "Cannot search by that column": "不能按这一列搜索",
    "_where= is not allowed": "不允许使用 _where=",
}
_ERROR_PATTERNS = [
    (re.compile(r"Cannot sort table by (?P<column>.+)"), "不能按 {column} 排序"),
    (re.compile(r"Table (?P<table>.+) not found"), "没有表 {table}"),
]
# What an error of a status means, when its message says nothing more (Datasette's 404 for an
# address that matches no route says "404").
STATUS = {400: "请求有误 Bad request", 403: "无权访问 Forbidden", 404: "未找到 Not found",
          405: "不支持此方法 Method not allowed", 500: "服务器出错 Server error",
          503: "暂时无法回答 Unavailable"}


def error_zh(message: str) -> str:
    """Datasette's English error message in Chinese, or '' when it is not one it is known
    to write."""
    text = message.strip()
    if text in ERRORS:
        return ERRORS[text]
    for pattern, zh in _ERROR_PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            return zh.format(**found.groupdict())
    return ""


# Datasette answers these with its default status, 500, though they are about the request
# (`?_sort=` a column the table does not have): they are 400s.
_REQUEST_ERRORS = re.compile(r"Cannot sort table by .+|Cannot use _sort and _sort_desc at "
                             r"the same time")


def is_request_error(message: str) -> bool:
    return _REQUEST_ERRORS.fullmatch(message.strip()) is not None


def status_title(status: int) -> str:
    return STATUS.get(status, f"错误 Error {status}")


def bilingual_error(message: str) -> str:
    """The message as a reader sees it: Chinese, then Datasette's English; '' for the bare
    status Datasette gives an unknown address."""
    text = message.strip()
    if not text or text.isdigit():
        return ""
    zh = error_zh(text)
    return f"{zh} {text}" if zh else text


# datasette/filters.py Filters._filters: key → Chinese (the English is Datasette's `display`).
OPERATORS = {
    "exact": "等于", "not": "不等于", "contains": "包含", "endswith": "结尾为",
    "startswith": "开头为", "gt": "大于", "gte": "大于等于", "lt": "小于", "lte": "小于等于",
    "like": "匹配", "notlike": "不匹配", "glob": "通配匹配", "in": "属于", "notin": "不属于",
    "arraycontains": "数组包含", "arraynotcontains": "数组不包含", "date": "日期为",
    "isnull": "为 null", "notnull": "不为 null", "isblank": "为空", "notblank": "不为空",
}
NO_ARGUMENT = frozenset({"isnull", "notnull", "isblank", "notblank"})


def operator_label(key: str, display: str) -> str:
    """A filter operator in the table page's menu: 等于 =, 包含 contains."""
    zh = OPERATORS.get(key)
    return f"{zh} {display}" if zh else display


def description_zh(selections: Iterable[tuple[str, str, str]], search: str | None,
                   sort: str | None, sort_desc: str | None,
                   column: Callable[[str], str], value: Callable[[str, str], str]) -> str:
    """What a table page shows, in Chinese: its filters, its search, its order. `column`
    names a column for a reader; `value` gives a value's label (a code's) or the value."""
    parts = []
    for name, lookup, given in selections:
        zh = OPERATORS.get(lookup, lookup)
        shown = value(name, given) if lookup in ("exact", "not") else given
        parts.append(f"{column(name)} {zh}" if lookup in NO_ARGUMENT else
                     f"{column(name)} {zh}“{shown}”")
    if search:
        parts.append(f"搜索“{search}”")
    text = "，".join(parts)
    text = f"筛选：{text}" if text else ""
    if sort or sort_desc:
        order = f"按{column(sort or sort_desc or '')}{'降序' if sort_desc else '升序'}排列"
        text = f"{text}；{order}" if text else order
    return text
