"""How fast is the pdfium table reader (cac_filings.pdf_grid), compared with reading the same
PDFs' characters at all, and with pdfplumber?

Over the replica's PDF attachments (../shared/cac-replica/data/files/*, those starting with
%PDF; without the replica, one large PDF generated like CAC's lists), three steps are timed:

  floor       pypdfium2: open each PDF and, for every page, read every character and its
              box, and every page object's type and bounds (nothing else)
  pdfium      cac_filings.pdf_grid.read_page_tables: the tables of every page
  pdfplumber  the same with pdfplumber's find_tables() + extract() (tests/test_pdf_grid.py
              `reference`, the tests' cross-check of the reader)

The floor reads the characters the way the reader does (the page text in one call, the boxes
in one C loop), so that the ratio measures the reader's own work. Each PDF is read by the
floor and the new reader back to back (in alternating order), then by pdfplumber, garbage
collected before each; this is repeated, and medians over the repeats are reported, of wall
time and of CPU time. The ratios are the medians of the ratios within each repeat: on a
machine whose speed drifts (a shared VM) they are much steadier than ratios of medians.

Target: pdfium ≤ 1.3 × floor.

Usage:
  python benchmarks/pdf_reader.py               # 15 repeats
  python benchmarks/pdf_reader.py --repeat 21
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import statistics
import sys
import time
from collections.abc import Callable
from itertools import repeat
from pathlib import Path
from typing import Any, cast

import pypdfium2.raw as pdfium  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
REPLICA_FILES = ROOT.parent / "shared" / "cac-replica" / "data" / "files"
STEPS = ("floor", "pdfium", "pdfplumber")
TARGET = 1.3


def _c(name: str, restype: Any, *argtypes: Any) -> Any:
    address = ctypes.cast(getattr(pdfium, name), ctypes.c_void_p).value
    assert address is not None, name
    return ctypes.CFUNCTYPE(restype, *argtypes)(address)


P, INT, F = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
load_document = cast(Callable[[bytes, int, None], int | None],
                     _c("FPDF_LoadMemDocument64", P, ctypes.c_char_p, ctypes.c_size_t,
                        ctypes.c_char_p))
close_document = cast(Callable[[int], None], _c("FPDF_CloseDocument", None, P))
page_count = cast(Callable[[int], int], _c("FPDF_GetPageCount", INT, P))
load_page = cast(Callable[[int, int], int], _c("FPDF_LoadPage", P, P, INT))
close_page = cast(Callable[[int], None], _c("FPDF_ClosePage", None, P))
load_text_page = cast(Callable[[int], int], _c("FPDFText_LoadPage", P, P))
close_text_page = cast(Callable[[int], None], _c("FPDFText_ClosePage", None, P))
count_chars = cast(Callable[[int], int], _c("FPDFText_CountChars", INT, P))
get_text = cast(Callable[[int, int, int, int], int], _c("FPDFText_GetText", INT, P, INT, INT, P))
loose_char_box = cast(Callable[[int, int, int], int],
                      _c("FPDFText_GetLooseCharBox", INT, P, INT, P))
count_objects = cast(Callable[[int], int], _c("FPDFPage_CountObjects", INT, P))
get_object = cast(Callable[[int, int], int], _c("FPDFPage_GetObject", P, P, INT))
object_type = cast(Callable[[int], int], _c("FPDFPageObj_GetType", INT, P))
object_bounds = cast(Callable[[int, int, int, int, int], int],
                     _c("FPDFPageObj_GetBounds", INT, P, P, P, P, P))


def floor(bodies: list[bytes]) -> int:
    """Read every character (text and box) and every page object (type and bounds), each
    kind in one C loop per page, into Python lists."""
    seen = 0
    for body in bodies:
        doc = load_document(body, len(body), None)
        if not doc:
            raise SystemExit("pdfium cannot open a benchmark PDF")
        try:
            for index in range(page_count(doc)):
                page = load_page(doc, index)
                try:
                    text_page = load_text_page(page)
                    try:
                        n = count_chars(text_page)
                        text = (ctypes.c_uint16 * (n + 1))()
                        get_text(text_page, 0, n, ctypes.addressof(text))
                        boxes = (F * (4 * n))()
                        base = ctypes.addressof(boxes)
                        list(map(loose_char_box, repeat(text_page, n), range(n),
                                 range(base, base + 16 * n, 16)))
                        seen += len(bytes(text)[:2 * n].decode("utf-16-le", "replace"))
                        flat = memoryview(boxes).cast("B").cast("f").tolist()
                        seen += sum(len(flat[k::4]) for k in range(4))
                    finally:
                        close_text_page(text_page)
                    m = count_objects(page)
                    objects = list(map(get_object, repeat(page, m), range(m)))
                    seen += sum(map(object_type, objects))
                    bounds = (F * (4 * m))()
                    b = ctypes.addressof(bounds)
                    list(map(object_bounds, objects, range(b, b + 16 * m, 16),
                             range(b + 4, b + 16 * m + 4, 16), range(b + 8, b + 16 * m + 8, 16),
                             range(b + 12, b + 16 * m + 12, 16)))
                    seen += len(memoryview(bounds).cast("B").cast("f").tolist())
                finally:
                    close_page(page)
        finally:
            close_document(doc)
    return seen


def inputs() -> tuple[str, list[bytes]]:
    if REPLICA_FILES.is_dir():
        bodies = [p.read_bytes() for p in sorted(REPLICA_FILES.iterdir()) if p.is_file()]
        pdfs = [b for b in bodies if b.startswith(b"%PDF")]
        if pdfs:
            return f"{len(pdfs)} PDFs of the replica ({REPLICA_FILES})", pdfs
    sys.path.insert(0, str(ROOT))
    from tests.pdf_fixtures import PdfTable, make_pdf

    header = ["序号", "属地", "大模型名称", "备案单位", "备案编号", "备案时间"]
    rows = [[str(n), "北京市", f"心影随形智能问答助手{n}", "北京心影随形科技有限公司",
             f"Beijing-XinYingSuiXingZhiNengWenDaZhuShou-20250318{n:04d}", "2025/4/10"]
            for n in range(1, 401)]
    body = make_pdf([PdfTable(header, rows, [6, 10, 22, 28, 36, 13])])
    return "one generated PDF (400 rows; the replica is absent)", [body]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    from cac_filings.pdf_grid import read_page_tables

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.test_pdf_grid import reference

    label, bodies = inputs()
    work: dict[str, Callable[[bytes], object]] = {
        "floor": lambda body: floor([body]),
        "pdfium": lambda body: read_page_tables(body, "bench.pdf"),
        "pdfplumber": lambda body: reference(body, "bench.pdf"),
    }
    pages = sum(t.page for b in bodies for t in read_page_tables(b, "bench.pdf")[-1:])
    print(f"{label}, {sum(len(b) for b in bodies)} bytes, tables on {pages} pages; "
          f"{args.repeat} repeats")
    for body in bodies:  # warm up (imports, font caches)
        for step in STEPS:
            work[step](body)
    # Seconds per repeat (all PDFs), by step, of wall time and of CPU time. Each PDF is read
    # by the floor and the reader back to back (in alternating order), then by pdfplumber.
    wall: dict[str, list[float]] = {s: [0.0] * args.repeat for s in STEPS}
    cpu: dict[str, list[float]] = {s: [0.0] * args.repeat for s in STEPS}
    for n in range(args.repeat):
        for body in bodies:
            for step in (STEPS[:2] if n % 2 else STEPS[1::-1]) + STEPS[2:]:
                gc.collect()
                c0, w0 = time.process_time(), time.perf_counter()
                work[step](body)
                wall[step][n] += time.perf_counter() - w0
                cpu[step][n] += time.process_time() - c0
    print(f"{'step':<12}{'wall (ms)':>12}{'cpu (ms)':>12}")
    for step in STEPS:
        print(f"{step:<12}{statistics.median(wall[step]) * 1000:>12.1f}"
              f"{statistics.median(cpu[step]) * 1000:>12.1f}")
    for name, times in (("wall", wall), ("cpu", cpu)):
        new = statistics.median(a / b for a, b in zip(times["pdfium"], times["floor"],
                                                       strict=True))
        old = statistics.median(a / b for a, b in zip(times["pdfplumber"], times["pdfium"],
                                                       strict=True))
        print(f"{name}: pdfium / floor = {new:.2f} (target ≤ {TARGET}), "
              f"pdfplumber / pdfium = {old:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
