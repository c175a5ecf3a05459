"""The one CSV writer every export uses (explorer, chargeback incl. the emailed one, FOCUS).

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (``=HYPERLINK(...)``); project, team and model names come from providers
and users, so such a cell is written with a leading apostrophe. Numbers (``-12.50``) are
left alone.
"""

from __future__ import annotations

import csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def safe_cell(value) -> str:
    """``value`` as a CSV cell that no spreadsheet runs as a formula (None is empty)."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


class SafeWriter:
    """``csv.writer`` whose cells go through `safe_cell`."""

    def __init__(self, out, **options):
        self._writer = csv.writer(out, **options)

    def writerow(self, row) -> None:
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose cells go through `safe_cell`."""

    def writerow(self, rowdict):
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts):
        for row in rowdicts:
            self.writerow(row)
