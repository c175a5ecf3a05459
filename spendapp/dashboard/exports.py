"""CSV export of the explorer: the rows of `spend_rows`, column for column the fields that
`manage.py spend --json` prints for the same options (null is an empty cell)."""

from __future__ import annotations

import csv

from spendapp.usage.queries import MEASURE_FIELDS, SpendQuery

# Spreadsheets run cells starting with these as formulas; a provider-reported name must not.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def spend_columns(query: SpendQuery) -> list[str]:
    return ["date", *query.by, *MEASURE_FIELDS]


def write_spend_csv(out, query: SpendQuery, rows: list[dict]) -> None:
    writer = csv.writer(out)
    columns = spend_columns(query)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in columns])
