"""Spreadsheets written by hand for the survey tests."""

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape


def write_ods(path: Path, sheets: dict[str, list[list[str]]]) -> None:
    """A minimal OpenDocument spreadsheet (text cells only), as LibreOffice would save it."""
    def cell(value: str) -> str:
        return (f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p></table:table-cell>'
                if value else "<table:table-cell/>")

    tables = "".join(f'<table:table table:name="{escape(name)}">' + "".join(
        "<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows) + "</table:table>"
        for name, rows in sheets.items())
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
