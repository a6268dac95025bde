"""Column types shared by the features: timestamps are aware UTC, money exact, everywhere."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select, text

from graphql_api.items.models import Item, ItemRecord
from graphql_api.state import AppState
from graphql_api.users.models import User

CET = timezone(timedelta(hours=1))


async def stored_item(services: AppState, **values: object) -> int:
    async with services.sessionmaker.begin() as session:
        owner = User(username="owner", email="owner@example.com", password_hash="-")
        session.add(owner)
        await session.flush()
        item = Item(owner_id=owner.id, title="Lamp", **{"price": Decimal("1.00"), **values})
        session.add(item)
        await session.flush()
        return item.id


async def read_back(services: AppState, item_id: int) -> tuple[Item, ItemRecord]:
    """The item as the ORM reads it (writes) and as a record (reads)."""
    async with services.sessionmaker() as session:
        orm = (await session.execute(select(Item).where(Item.id == item_id))).scalar_one()
    async with services.reader.kw["bind"].connect() as conn:
        rows = await conn.execute(ItemRecord.select().where(Item.id == item_id))
        (record,) = ItemRecord.from_rows(rows)
    return orm, record


async def test_timestamps_and_money_come_back_exact_and_in_utc(services: AppState) -> None:
    written = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=CET)
    item_id = await stored_item(services, created_at=written, price=Decimal("1234567.89"))
    for read in await read_back(services, item_id):
        assert read.created_at == written and read.created_at.tzinfo is UTC
        assert read.created_at.hour == 4
        assert read.price == Decimal("1234567.89") and str(read.price) == "1234567.89"


async def test_sqlite_text_in_any_iso_form_reads_as_utc(services: AppState) -> None:
    """What this type did not write itself (raw SQL, other tools) still reads right."""
    if services.engine.dialect.name != "sqlite":
        return  # PostgreSQL stores timestamptz: there is no text form to read
    item_id = await stored_item(services)
    forms = {
        "2026-03-04 05:06:07": datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
        "2026-03-04 05:06:07.5": datetime(2026, 3, 4, 5, 6, 7, 500000, tzinfo=UTC),
        "2026-03-04T06:06:07+01:00": datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
    }
    for stored, meant in forms.items():
        async with services.engine.begin() as conn:
            await conn.execute(
                text("UPDATE items SET created_at = :s WHERE id = :i"), {"s": stored, "i": item_id}
            )
        for read in await read_back(services, item_id):
            assert read.created_at == meant and read.created_at.tzinfo is UTC, stored
