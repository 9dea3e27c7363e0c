"""Merged cell ranges of an OpenDocument spreadsheet (.ods), which python-calamine does not report.

A merged range is a ``table:table-cell`` with ``table:number-columns-spanned`` and/or
``table:number-rows-spanned``; the cells it covers follow as ``table:covered-table-cell``.
Positions count repeated rows and cells (``table:number-rows-repeated``,
``table:number-columns-repeated``) the way the sheet shows them, 0-based from A1.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree.ElementTree import iterparse

TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
Range = tuple[tuple[int, int], tuple[int, int]]  # ((top, left), (bottom, right)), as python-calamine gives them


def _tag(name: str) -> str:
    return f"{{{TABLE_NS}}}{name}"


def merged_ranges(path: Path) -> dict[str, list[Range]]:
    """{sheet name: merged ranges} of every sheet of the .ods at ``path``."""
    ranges: dict[str, list[Range]] = {}
    sheet, row, col, depth = None, 0, 0, 0
    with zipfile.ZipFile(path) as ods, ods.open("content.xml") as content:
        for event, element in iterparse(content, events=("start", "end")):
            if element.tag == _tag("table"):  # nested tables (inside a cell) do not count as sheets
                depth += 1 if event == "start" else -1
                if event == "start" and depth == 1:
                    sheet, row = element.get(_tag("name"), ""), 0
                    ranges[sheet] = []
            elif depth != 1:
                continue
            elif element.tag == _tag("table-row"):
                if event == "start":
                    col = 0
                else:
                    row += int(element.get(_tag("number-rows-repeated"), 1))
                    element.clear()
            elif element.tag in (_tag("table-cell"), _tag("covered-table-cell")) and event == "start":
                rows = int(element.get(_tag("number-rows-spanned"), 1))
                cols = int(element.get(_tag("number-columns-spanned"), 1))
                if rows > 1 or cols > 1:
                    ranges[sheet].append(((row, col), (row + rows - 1, col + cols - 1)))
                col += int(element.get(_tag("number-columns-repeated"), 1))
    return ranges
