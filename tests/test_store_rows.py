"""Reading records: the newest matching row, and a dataclass built from a row."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from store.rows import newest_row, record_from_row
from store.types import UTCDateTime

METADATA = MetaData()
NOTES = Table(
    "test_notes",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("owner", String(8), nullable=False),
    Column("colour", String(8), nullable=False),
    Column("written_at", UTCDateTime(), nullable=False),
)


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    owner: str
    colour: Colour
    written_at: datetime


async def test_the_newest_matching_row_becomes_its_record(engine: AsyncEngine) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
        await conn.execute(
            NOTES.insert(),
            [
                {"id": 1, "owner": "a", "colour": "red", "written_at": start},
                {"id": 2, "owner": "a", "colour": "blue", "written_at": start + timedelta(days=2)},
                {"id": 3, "owner": "b", "colour": "red", "written_at": start + timedelta(days=9)},
                {"id": 4, "owner": "a", "colour": "red", "written_at": start + timedelta(days=1)},
            ],
        )
    async with engine.connect() as conn:
        row = await newest_row(conn, NOTES, NOTES.c.written_at, NOTES.c.owner == "a")
        nobody = await newest_row(conn, NOTES, NOTES.c.written_at, NOTES.c.owner == "z")
    assert row is not None and nobody is None
    note = record_from_row(Note, row, colour=Colour(row["colour"]))
    assert note == Note(2, "a", Colour.BLUE, start + timedelta(days=2))
    assert note.colour is Colour.BLUE


def test_a_record_needs_every_field_in_the_row() -> None:
    with pytest.raises(KeyError, match="written_at"):
        record_from_row(Note, {"id": 1, "owner": "a", "colour": "red"})
