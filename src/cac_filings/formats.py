"""File formats decided from the bytes, never from names: CAC mislabels docx as pdf and back."""

from __future__ import annotations

import io
import zipfile
from typing import Literal

FileFormat = Literal["docx", "xlsx", "pdf", "html", "zip", "empty", "unknown"]

WAF_MARKERS = ("知道创宇云防御", "知道创宇", "创宇盾")

# Caps for hostile zip containers (docx, xlsx): real lists are well under 1 MB compressed and
# 30 MB of XML. Declared sizes are what the checks read: zipfile never inflates a member past
# its declared size, so capping them caps the work of testing and reading it.
MAX_XML_BYTES = 200 * 1024 * 1024  # one member, uncompressed
MAX_UNZIPPED_BYTES = 500 * 1024 * 1024  # all members together
MAX_COMPRESSION_RATIO = 200
_RATIO_CHECKED_FROM = 1024 * 1024  # smaller members may compress as well as they like


def sniff_format(body: bytes) -> FileFormat:
    if not body:
        return "empty"
    head = body[:8]
    if head.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(body)).namelist())
        except zipfile.BadZipFile:
            return "zip"
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        return "zip"
    if head.startswith(b"%PDF"):
        return "pdf"
    start = body[:1024].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body", b"<meta")):
        return "html"
    if b"<html" in start or b"<title" in start:
        return "html"
    return "unknown"


def is_waf_page(body: bytes) -> bool:
    text = body[:20000].decode("utf-8", errors="replace")
    return any(marker in text for marker in WAF_MARKERS)


def member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why one zip member is refused before it is inflated (too big, a zip bomb), or None."""
    if info.file_size > MAX_XML_BYTES:
        return (f"zip member {info.filename} is {info.file_size} bytes uncompressed "
                f"(cap {MAX_XML_BYTES})")
    if (info.file_size > _RATIO_CHECKED_FROM and info.compress_size
            and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO):
        return (f"zip member {info.filename} has a compression ratio of "
                f"{info.file_size / info.compress_size:.0f}:1 "
                f"(cap {MAX_COMPRESSION_RATIO}:1, zip bomb?)")
    return None


def zip_size_problem(body: bytes) -> str | None:
    """Why a zip container is refused before anything in it is inflated (a zip bomb), or
    None. A container zipfile cannot open is left to `integrity_problem`."""
    try:
        members = zipfile.ZipFile(io.BytesIO(body)).infolist()
    except (zipfile.BadZipFile, OSError, EOFError):
        return None
    for info in members:
        problem = member_problem(info)
        if problem is not None:
            return problem
    total = sum(info.file_size for info in members)
    if total > MAX_UNZIPPED_BYTES:
        return f"zip members add up to {total} bytes uncompressed (cap {MAX_UNZIPPED_BYTES})"
    return None


def integrity_problem(body: bytes, fmt: FileFormat) -> str | None:
    """Why a file looks truncated, corrupt or hostile, or None when it looks whole."""
    if fmt in ("docx", "xlsx", "zip"):
        oversized = zip_size_problem(body)
        if oversized is not None:
            return oversized
        try:
            bad = zipfile.ZipFile(io.BytesIO(body)).testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            return f"broken zip container ({exc})"
        if bad is not None:
            return f"zip member {bad} fails its CRC check"
        return None
    if fmt == "pdf" and b"%%EOF" not in body[-2048:]:
        return "PDF has no %%EOF trailer (truncated?)"
    return None
