"""CSV export of the explorer: the rows of `spend_rows`, column for column the fields that
`manage.py spend --json` prints for the same options (null is an empty cell)."""

from __future__ import annotations

from spendapp.core.csvfiles import SafeWriter
from spendapp.usage.queries import MEASURE_FIELDS, SpendQuery


def spend_columns(query: SpendQuery) -> list[str]:
    return ["date", *query.by, *MEASURE_FIELDS]


def write_spend_csv(out, query: SpendQuery, rows: list[dict]) -> None:
    writer = SafeWriter(out)
    columns = spend_columns(query)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row[column] for column in columns])
