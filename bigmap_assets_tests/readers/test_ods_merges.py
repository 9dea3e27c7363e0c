import zipfile

from bigmap_assets.readers.ods_merges import merged_ranges

CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>
<table:table table:name="Form">
  <table:table-column table:number-columns-repeated="4"/>
  <table:table-row><table:table-cell><text:p>Partner name</text:p></table:table-cell>
    <table:table-cell table:number-columns-spanned="3"><text:p>ILL</text:p></table:table-cell>
    <table:covered-table-cell table:number-columns-repeated="2"/></table:table-row>
  <table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="4"/></table:table-row>
  <table:table-row><table:table-cell table:number-columns-repeated="2"/>
    <table:table-cell table:number-rows-spanned="2"><text:p>yes</text:p></table:table-cell></table:table-row>
  <table:table-row><table:table-cell table:number-columns-repeated="2"/><table:covered-table-cell/></table:table-row>
  <table:table-row-group><table:table-row>
    <table:table-cell table:number-rows-spanned="9" table:number-columns-spanned="1"><text:p>If between</text:p>
      <table:table table:name="nested"><table:table-row><table:table-cell table:number-columns-spanned="5"/>
      </table:table-row></table:table>
    </table:table-cell></table:table-row></table:table-row-group>
</table:table>
<table:table table:name="Empty"><table:table-row><table:table-cell/></table:table-row></table:table>
</office:spreadsheet></office:body></office:document-content>"""


def test_merged_ranges_count_repeated_rows_and_cells_and_skip_nested_tables(tmp_path):
    path = tmp_path / "form.ods"
    with zipfile.ZipFile(path, "w") as ods:
        ods.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        ods.writestr("content.xml", CONTENT)
    assert merged_ranges(path) == {
        "Form": [((0, 1), (0, 3)), ((4, 2), (5, 2)), ((6, 0), (14, 0))],  # B1:D1, C5:C6, A7:A15
        "Empty": [],
    }
