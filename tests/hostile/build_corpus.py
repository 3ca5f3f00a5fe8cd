"""Writes the hostile corpus (the small files next to this script) and ``manifest.json``.

Run it once after changing the list: ``.venv/bin/python tests/hostile/build_corpus.py``. Each
entry says where the one-line error must point — file, row (as a spreadsheet shows it: the
header is row 1) and column, ``null`` where none applies (an empty file has no row) — and a
fragment of the message. The expectations are written here by hand from how each file is built,
not copied from the program's output. Files too large to commit (100,000 columns, a 1 GB line)
and ones that need the machine (a folder, a DuckDB file) are listed with ``"generated"``: the
test builds them in a temporary folder.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import random
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTRACTS = "contract_id,client,title,budget,currency,start_date,end_date,status\n"
GOOD_ROW = "C1,Acme,Logo,150,USD,2025-01-10,2025-01-20,completed\n"
MILESTONES = "contract_id,seq,description,amount,paid_date\n"
UPWORK = 'Date,"Ref ID",Type,Description,Agency,Freelancer,Team,"Account Name",PO,Amount,"Amount in local currency",Currency,Balance\n'
UPWORK_ROW = '"Oct 28, 2022",411000093,"Fixed Price","Invoice for Site: Milestone 1 - Design",,"Sam T.","Harbor Apps","Sam T.",,300.00,,,1087.00\n'


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as workbook:
        workbook.writestr("[Content_Types].xml", "<Types/>")
        workbook.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData/></worksheet>")
    return buffer.getvalue()


def _random_bytes() -> bytes:
    rng = random.Random(7)
    return bytes(rng.choice(range(1, 256)) for _ in range(4096))  # no NUL: caught as "not text"


# (file name, content, expected row, expected column, message fragment, extra CLI arguments)
CASES: list[tuple[str, bytes, int | None, str | None, str, list[str]]] = [
    ("empty.csv", b"", None, None, "the file is empty", []),
    ("blank_lines.csv", b"\n\n   \r\n\n", None, None, "the file is empty", []),
    ("bom_only.csv", codecs.BOM_UTF8, None, None, "the file is empty", []),
    ("excel_sep_line_only.csv", b"sep=;\r\n", None, None, "the file is empty", []),
    ("header_only.csv", CONTRACTS.encode(), 2, None, "no rows below the header", []),
    ("random_bytes.csv", _random_bytes(), None, None, "is not text", []),
    ("excel_workbook.csv", _xlsx(), None, None, "Excel workbook", []),
    ("pdf_renamed.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", None, None, "PDF document", []),
    ("gzipped.csv", gzip.compress((CONTRACTS + GOOD_ROW).encode(), mtime=0), None, None, "gzip-compressed", []),
    # Text, but not CSV: a login page saved under the export's name, an API's JSON. They read as a header
    # line with nothing below it ("no rows below the header: nothing to import").
    ("html_page.csv", b"<!DOCTYPE html><html><body>Login required</body></html>\n", None, None, "an HTML page", []),
    ("html_page_bom_crlf.csv", codecs.BOM_UTF8 + b"\r\n  <html lang=\"en\">\r\n<head><title>Upwork</title></head>\r\n<body>\r\n<table><tr><td>1</td></tr></table>\r\n</body></html>\r\n",
     None, None, "an HTML page", []),
    ("json_array.csv", b'[{"contract_id":"X1"}]\n', None, None, "a JSON document", []),
    ("json_object_lines.csv", b'{"contract_id": "X1", "budget": 100}\n{"contract_id": "X2", "budget": 200}\n', None, None,
     "a JSON document", []),
    ("xml_document.csv", b'<?xml version="1.0" encoding="UTF-8"?>\n<contracts><contract id="X1"/></contracts>\n', None, None,
     "an XML document", []),
    ("nul_in_cell.csv", (CONTRACTS + GOOD_ROW + "C2,Acme,Lo\x00go,150,USD,2025-01-10,,active\n").encode(), 3, "title",
     "NUL byte", []),
    ("truncated_mid_row.csv", (CONTRACTS + GOOD_ROW + "C2,Acme,Flyer,300,US").encode(), 3, "start_date", "cut short", []),
    ("unclosed_quote.csv", (CONTRACTS + GOOD_ROW + 'C2,Acme,"Flyer, two sides,300,USD,2025-01-10,,active\n' + GOOD_ROW.replace("C1", "C3")).encode(),
     3, "title", "never closed", []),
    ("stray_quote.csv", (CONTRACTS + GOOD_ROW + 'C2,Acme,"Flyer" two sides,300,USD,2025-01-10,,active\n').encode(),
     3, "title", "quote inside a value must be doubled", []),
    ("ragged_extra_values.csv", (CONTRACTS + GOOD_ROW + "C2,Acme,Flyer,1,300,USD,2025-01-10,,active\n").encode(),
     3, "9", "9 values but the header names 8", []),
    ("ragged_missing_values.csv", (CONTRACTS + GOOD_ROW + "C2,Acme,Flyer,300\n" + GOOD_ROW.replace("C1", "C3")).encode(),
     3, "currency", "4 values but the header names 8", []),
    ("whitespace_row.csv", (CONTRACTS + GOOD_ROW + "    \n" + GOOD_ROW.replace("C1", "C3")).encode(), 3, "client",
     "1 value but the header names 8", []),
    ("mixed_line_endings.csv", (CONTRACTS.replace("\n", "\r\n") + GOOD_ROW.replace("\n", "\r")
                                + GOOD_ROW.replace("C1", "C2").replace("\n", "\r\n")).encode(), 2, None, "line break", []),
    ("utf8_bom_with_latin1_bytes.csv", codecs.BOM_UTF8 + (CONTRACTS + GOOD_ROW).encode() + "C2,Café Ñ,Menu,80,EUR,2025-02-01,,active\n".encode("latin-1"),
     3, "client", "not valid UTF-8", []),
    ("utf16_cut_in_half_a_character.csv", codecs.BOM_UTF16_LE + (CONTRACTS + GOOD_ROW).encode("utf-16-le") + b"C",
     3, "contract_id", "not valid UTF-16", []),
    ("utf16_lone_surrogate.csv", codecs.BOM_UTF16_LE + (CONTRACTS + "C2,").encode("utf-16-le") + b"\x00\xd8"
     + ",Menu,80,EUR,2025-02-01,,active\n".encode("utf-16-le"), 2, "client", "not valid UTF-16", []),
    ("duplicate_header.csv", "contract_id,budget,start_date,status,Budget\nC1,150,2025-01-10,completed,160\n".encode(),
     1, "Budget", "twice", []),
    ("sql_in_header.csv", 'contract_id,start_date,"status""); DROP TABLE contracts; --",budget\nC1,2025-01-10,completed,150\n'.encode(),
     1, "status", "required column 'status' is missing", []),
    ("html_in_header.csv", "contract_id,<script>alert('start_date')</script>,status,budget,end_date\nC1,2025-01-10,completed,150,2025-01-20\n".encode(),
     1, "start_date", "required column 'start_date' is missing", []),
    ("sql_in_status.csv", (CONTRACTS + "C1,Acme,Logo,150,USD,2025-01-10,,completed'); DROP TABLE contracts;--\n").encode(),
     2, "status", "unknown status", []),
    ("html_in_contract_type.csv", "contract_id,start_date,status,budget,contract_type\nC1,2025-01-10,active,150,<img src=x onerror=alert(1)>\n".encode(),
     2, "contract_type", "unknown contract_type", []),
    ("year_9999.csv", (CONTRACTS + GOOD_ROW + "C2,Acme,Flyer,300,USD,9999-12-31,,active\n").encode(), 3, "start_date",
     "outside the years 1970 to 2099", []),
    ("year_0001_paid.csv", (MILESTONES + "C1,1,Design,50,0001-01-01\n").encode(), 2, "paid_date",
     "outside the years 1970 to 2099", []),
    ("impossible_date.csv", (CONTRACTS + "C1,Acme,Logo,150,USD,2025-02-30,,active\n").encode(), 2, "start_date",
     "cannot read '2025-02-30' as a date", []),
    ("amount_1e300.csv", (CONTRACTS + "C1,Acme,Logo,1e300,USD,2025-01-10,,active\n").encode(), 2, "budget",
     "cannot read '1e300' as an amount", []),
    ("amount_40_digits.csv", (CONTRACTS + "C1,Acme,Logo," + "9" * 40 + ",USD,2025-01-10,,active\n").encode(), 2, "budget",
     "as an amount", []),
    ("negative_budget.csv", (CONTRACTS + GOOD_ROW + "C2,Acme,Flyer,-300,USD,2025-01-10,,active\n").encode(), 3, "budget",
     "budget is negative", []),
    ("negative_milestone.csv", (MILESTONES + "C1,1,Design,(50.00),2025-01-12\n").encode(), 2, "amount",
     "amount is negative", []),
    ("duplicate_contract_ids.csv", (CONTRACTS + GOOD_ROW + GOOD_ROW.replace("Logo", "Other logo")).encode(), 3, "contract_id",
     "appears more than once", []),
    ("duplicate_milestones.csv", (MILESTONES + "C1,1,Design,50,2025-01-12\nC1,1,Design again,60,\n").encode(), 3, "seq",
     "appears more than once", []),
    ("seq_too_large.csv", (MILESTONES + "C1,99999999999,Design,50,\n").encode(), 2, "seq", "as a whole number", []),
    ("end_before_start.csv", (CONTRACTS + "C1,Acme,Logo,150,USD,2025-01-10,2024-01-10,cancelled\n").encode(), 2, "end_date",
     "end_date is before start_date", []),
    ("milestone_of_unknown_contract.csv", (MILESTONES + "NOPE,1,Design,50,\n").encode(), 2, "contract_id",
     "neither in this import nor in the workspace", []),
    ("unknown_layout.csv", b"foo,bar\n1,2\n", 1, None, "format not recognised", []),
    ("upwork_bad_amount.csv", (UPWORK + UPWORK_ROW + UPWORK_ROW.replace("411000093", "411000094").replace("300.00", "3OO.00")).encode(),
     3, "Amount", "cannot read '3OO.00' as an amount", []),
    ("upwork_same_id_twice.csv", (UPWORK + UPWORK_ROW + UPWORK_ROW.replace("300.00", "400.00")).encode(), 3, "Ref ID",
     "appears twice with different contents", []),
    ("upwork_weekly_bad_date.csv", b'"Date","Contract","Hours","Amount","Payment type"\n"2024-03-04","Copy (41200871)","","200","Fixed Price Payment"\n"2024-03-32","Copy (41200871)","","200","Fixed Price Payment"\n',
     3, "Date", "as a date", []),
    ("freelancer_two_currencies.csv", b"Date,Description,Currency,Amount,Tax\n06 Jan 2026 23:52,Done milestone payment from Priya N. for project Macros (USD),USD,+250.00,0.00\n07 Jan 2026 10:00,Done milestone payment from Priya N. for project Macros (EUR),EUR,+100.00,0.00\n",
     3, "Currency", "a project is in one currency", []),
    ("completions_unknown_status.csv", b"contract_id,status,budget,planned_milestones\nC1,finished,150,2\n", 2, "status",
     "unknown status", ["--format", "completions"]),
]

# Built by the test in a temporary folder (too large to commit, or not a plain file).
GENERATED = [
    {"file": "hundred_thousand_columns.csv", "generated": "100000 columns", "row": 1, "column": "c1000",
     "message": "at most 1,000 can be read", "args": []},
    {"file": "one_gigabyte_line.csv", "generated": "1 GB line", "row": 3, "column": "title",
     "message": "longer than 2,000,000 characters", "args": []},
    {"file": "workspace_renamed.csv", "generated": "DuckDB file", "row": None, "column": None,
     "message": "DuckDB database", "args": []},
    {"file": "a_folder.csv", "generated": "folder", "row": None, "column": None,
     "message": "is a folder", "args": []},
]


def build() -> list[dict]:
    manifest = []
    for name, content, row, column, message, args in CASES:
        (HERE / name).write_bytes(content)
        manifest.append({"file": name, "row": row, "column": column, "message": message, "args": args})
    manifest += GENERATED
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


if __name__ == "__main__":
    print(f"{len(build())} cases written to {HERE}")
