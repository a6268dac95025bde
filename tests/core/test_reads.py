"""Reads straight to the driver (`core.db.fastread`, as `core.db.records.Read` runs them) give
what SQLAlchemy would, value for value."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, event

from graphql_api.core.db.records import Read
from graphql_api.items.models import Item, ItemRecord
from graphql_api.state import AppState
from graphql_api.users.models import Role, User, UserRecord

START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def seed(services: AppState) -> None:
    async with services.sessionmaker.begin() as session:
        admin = User(username="ada", email="ada@example.com", password_hash="-", role=Role.ADMIN)
        idle = User(username="bo", email="bo@example.com", password_hash="-", is_active=False)
        session.add_all([admin, idle])
        await session.flush()
        session.add_all(
            Item(
                owner_id=admin.id if n % 2 else idle.id,
                title=f"Item {n}",
                description=None if n % 3 else "some text",
                price=Decimal(f"{n}.{n:02d}"),
                tax=None if n % 2 else Decimal("0.10"),
                created_at=START + timedelta(minutes=n),
            )
            for n in range(1, 7)
        )


async def test_records_equal_sqlalchemys_with_typed_parameters(services: AppState) -> None:
    await seed(services)
    engine = services.reader.kw["bind"]
    # Parameters that convert on the way in (a timestamp, an amount of money).
    stmt = (
        ItemRecord.select()
        .where(Item.created_at > bindparam("after", type_=Item.created_at.type))
        .where(Item.price >= bindparam("cheapest", type_=Item.price.type))
        .order_by(Item.id)
    )
    parameters = {"after": START + timedelta(minutes=1), "cheapest": Decimal("3.03")}
    read = Read(ItemRecord, stmt)
    statements: list[str] = []

    def heard(conn: object, cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", heard)
    try:
        async with engine.connect() as conn:
            direct = await read.all(conn, parameters)
            assert engine.dialect.name in read.driver._compiled  # the driver's way was taken
            through_sqlalchemy = ItemRecord.from_rows(await conn.execute(stmt, parameters))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", heard)
    assert [i.title for i in direct] == ["Item 3", "Item 4", "Item 5", "Item 6"]
    assert direct == through_sqlalchemy
    for record in direct:
        assert record.created_at.tzinfo is UTC and isinstance(record.price, Decimal)
    assert direct[0].tax is None and direct[1].tax == Decimal("0.10")
    assert direct[1].description is None and direct[0].description == "some text"
    assert len(statements) == 2  # listeners hear both ways alike


async def test_user_records_keep_enums_and_booleans(services: AppState) -> None:
    await seed(services)
    engine = services.reader.kw["bind"]
    stmt = UserRecord.select().where(User.email.like("%@example.com")).order_by(User.username)
    async with engine.connect() as conn:
        ada, bo = await Read(UserRecord, stmt).all(conn, {})
    assert ada.role is Role.ADMIN and ada.is_admin and ada.is_active is True
    assert bo.role is Role.USER and not bo.is_admin and bo.is_active is False


def test_a_list_in_a_read_is_refused_with_a_reason(services: AppState) -> None:
    read = Read(UserRecord, UserRecord.select().where(User.username.in_(["ada", "bo"])))
    with pytest.raises(ValueError, match="one parameter per value"):
        read.driver.compiled(services.reader.kw["bind"].dialect)
