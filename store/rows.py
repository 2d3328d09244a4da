"""Reading records: the newest row of a kind, and a dataclass from a row.

Records are frozen dataclasses whose fields are named as their table's columns;
only the fields whose stored form differs (an enum's value, JSON text) are
converted by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, RowMapping, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    Record = TypeVar("Record", bound=DataclassInstance)
else:
    Record = TypeVar("Record")


async def newest_row(
    conn: AsyncConnection, table: Table, newest_by: ColumnElement[Any], *where: ColumnElement[bool]
) -> RowMapping | None:
    """The row of `table` matching every condition with the greatest `newest_by`."""
    query = select(table).where(*where).order_by(newest_by.desc()).limit(1)
    return (await conn.execute(query)).mappings().first()


def record_from_row(
    cls: type[Record], row: RowMapping | Mapping[str, Any], **converted: Any
) -> Record:
    """`cls` with each field taken from the row's column of that name, or from
    `converted` where the stored form differs."""
    return cls(
        **{f.name: converted[f.name] if f.name in converted else row[f.name] for f in fields(cls)}
    )
