"""The read engine: autocommit, no transaction round trips, and no writes."""

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError

from graphql_api.core.context import AppState
from graphql_api.users.models import User


@pytest.fixture
def statements(services: AppState) -> list[str]:
    """SQL the read engine sends, as the driver sees it."""
    from sqlalchemy import event

    sent: list[str] = []
    engine = services.reader.kw["bind"].sync_engine

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


async def test_a_read_is_one_statement(services: AppState, statements: list[str]) -> None:
    async with services.reader() as session:
        assert (await session.execute(select(User.id))).all() == []
    assert statements == [statements[0]]
    assert statements[0].lstrip().upper().startswith("SELECT")


async def test_reads_cannot_write(services: AppState) -> None:
    async with services.reader() as session:
        with pytest.raises(DBAPIError, match=r"(?i)read.only|readonly"):
            await session.execute(
                insert(User).values(username="w", email="w@example.com", password_hash="-")
            )
    async with services.sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM users"))).scalar_one() == 0
