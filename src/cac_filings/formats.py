"""File formats decided from the bytes, never from names: CAC mislabels docx as pdf and back."""

from __future__ import annotations

import io
import zipfile
from typing import Literal

FileFormat = Literal["docx", "xlsx", "pdf", "html", "zip", "empty", "unknown"]

WAF_MARKERS = ("知道创宇云防御", "知道创宇", "创宇盾")


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


def integrity_problem(body: bytes, fmt: FileFormat) -> str | None:
    """Why a file looks truncated or corrupt, or None when it looks whole."""
    if fmt in ("docx", "xlsx", "zip"):
        try:
            bad = zipfile.ZipFile(io.BytesIO(body)).testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            return f"broken zip container ({exc})"
        if bad is not None:
            return f"zip member {bad} fails its CRC check"
        return None
    if fmt == "pdf":
        if b"%%EOF" not in body[-2048:]:
            return "PDF has no %%EOF trailer (truncated?)"
        return None
    if fmt == "zip" and body.startswith(b"PK"):
        return None
    return None
