"""Small SQL building blocks shared by the summary queries; portable to SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa


def ratio(numerator: Any, denominator: Any) -> sa.ColumnElement[float]:
    """numerator / denominator as a float; NULL when the denominator is 0 or NULL."""
    return sa.case(
        (denominator > 0, sa.cast(numerator, sa.Float) / sa.cast(denominator, sa.Float)),
        else_=sa.null(),
    )


def sum_where(value: Any, condition: sa.ColumnElement[bool]) -> Any:
    """SUM(value) over the rows meeting `condition`; 0 when there are none."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0)), 0)


def sum_between(value: Any, day: sa.ColumnElement[date], first: date, last: date) -> Any:
    """SUM(value) over the rows whose `day` lies in [first, last]; 0 when there are none."""
    return sum_where(value, day.between(first, last))


def replace_all(connection: sa.Connection, table: sa.Table, rows: sa.Select[Any]) -> int:
    """Full refresh inside the caller's transaction: readers see the old or the new table."""
    connection.execute(sa.delete(table))
    insert_select(connection, table, rows)
    return count_rows(connection, table)


def insert_select(connection: sa.Connection, table: sa.Table, rows: sa.Select[Any]) -> None:
    """INSERT INTO table (the select's labels) SELECT ..."""
    columns = list(rows.selected_columns.keys())
    connection.execute(sa.insert(table).from_select(columns, rows))


def count_rows(connection: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    # Not the INSERT's rowcount: drivers need not report it for INSERT .. SELECT.
    return connection.execute(
        sa.select(sa.func.count()).select_from(table).where(*where)
    ).scalar_one()
