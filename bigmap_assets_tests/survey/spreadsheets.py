"""Spreadsheets written by hand for the survey tests."""

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape


def write_ods(path: Path, sheets: dict[str, list[list[str]]],
              merges: dict[str, list[tuple[int, int, int, int]]] | None = None) -> None:
    """A minimal OpenDocument spreadsheet (text cells only), as LibreOffice would save it; ``merges`` gives
    each sheet's merged ranges as (top, left, bottom, right), 0-based."""
    def cell(value: str, spans: dict[str, int], covered: bool) -> str:
        if covered:
            return "<table:covered-table-cell/>"
        attributes = "".join(f' table:number-{k}-spanned="{n}"' for k, n in spans.items())
        return (f'<table:table-cell{attributes} office:value-type="string"><text:p>{escape(value)}</text:p>'
                "</table:table-cell>" if value else f"<table:table-cell{attributes}/>")

    def table(name: str, rows: list[list[str]]) -> str:
        spans, covered = {}, set()
        for top, left, bottom, right in (merges or {}).get(name, []):
            spans[top, left] = {"rows": bottom - top + 1, "columns": right - left + 1}
            covered |= {(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1)} - {(top, left)}
        width = max(len(row) for row in rows)
        return f'<table:table table:name="{escape(name)}">' + "".join(
            "<table:table-row>" + "".join(cell(v, spans.get((r, c), {}), (r, c) in covered)
                                          for c, v in enumerate([*row, *[""] * (width - len(row))]))
            + "</table:table-row>" for r, row in enumerate(rows)) + "</table:table>"

    tables = "".join(table(name, rows) for name, rows in sheets.items())
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content office:version="1.2" '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
               f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest manifest:version="1.2" '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                '<manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>")
    with zipfile.ZipFile(path, "w") as ods:
        ods.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        ods.writestr("META-INF/manifest.xml", manifest)
        ods.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
