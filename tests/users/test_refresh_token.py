import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from graphql_api.users.models import RefreshToken
from tests.support.client import GraphQLClient
from tests.support.settings import TEST_PASSWORD
from tests.support.users import LOGIN, LOGOUT, REFRESH, SignedIn

ME = "query { me { username } }"


async def refresh(client: GraphQLClient, token: str) -> dict:  # type: ignore[type-arg]
    return (await client.data(REFRESH, {"input": {"refreshToken": token}}))["refreshToken"]


async def test_refresh_rotates_the_pair(anon_client: GraphQLClient, alice: SignedIn) -> None:
    payload = await refresh(anon_client, alice.refresh_token)
    assert payload["userErrors"] == []
    assert payload["user"] == {"username": "alice"}
    assert payload["refreshToken"] != alice.refresh_token
    me = await GraphQLClient(anon_client.http, payload["accessToken"]).data(ME)
    assert me["me"]["username"] == "alice"
    # The new refresh token works once more.
    assert (await refresh(anon_client, payload["refreshToken"]))["userErrors"] == []


async def test_reused_refresh_token_revokes_the_family(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    rotated = await refresh(anon_client, alice.refresh_token)
    reused = await refresh(anon_client, alice.refresh_token)
    assert reused["userErrors"][0]["code"] == "INVALID_TOKEN"
    assert reused["accessToken"] is None
    # The thief's replay also killed the legitimate successor.
    after = await refresh(anon_client, rotated["refreshToken"])
    assert after["userErrors"][0]["code"] == "INVALID_TOKEN"


async def test_other_sessions_survive_a_revoked_family(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    other = await anon_client.mutate(LOGIN, {"login": "alice", "password": TEST_PASSWORD})
    await refresh(anon_client, alice.refresh_token)
    await refresh(anon_client, alice.refresh_token)  # reuse: revokes only that family
    assert (await refresh(anon_client, other["refreshToken"]))["userErrors"] == []


async def test_concurrent_refreshes_with_one_token_let_one_win(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    results = await asyncio.gather(*(refresh(anon_client, alice.refresh_token) for _ in range(5)))
    winners = [r for r in results if not r["userErrors"]]
    assert len(winners) == 1
    # The losers were reuses: the family, winner's new token included, is revoked.
    after = await refresh(anon_client, winners[0]["refreshToken"])
    assert after["userErrors"][0]["code"] == "INVALID_TOKEN"


async def test_access_token_is_not_a_refresh_token(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    payload = await refresh(anon_client, alice.client.token)  # type: ignore[arg-type]
    assert payload["userErrors"] == [
        {
            "field": ["refreshToken"],
            "code": "INVALID_TOKEN",
            "message": "The refresh token is invalid, expired or already used.",
        }
    ]


async def test_garbage_refresh_token_is_a_user_error(anon_client: GraphQLClient) -> None:
    payload = await refresh(anon_client, "garbage")
    assert payload["userErrors"][0]["code"] == "INVALID_TOKEN"


async def test_logout_ends_the_session(anon_client: GraphQLClient, alice: SignedIn) -> None:
    data = await anon_client.data(LOGOUT, {"input": {"refreshToken": alice.refresh_token}})
    assert data["logout"] == {"ok": True, "userErrors": []}
    assert (await refresh(anon_client, alice.refresh_token))["userErrors"][0]["code"] == (
        "INVALID_TOKEN"
    )


async def test_logout_with_a_bad_token_is_a_user_error(anon_client: GraphQLClient) -> None:
    data = await anon_client.data(LOGOUT, {"input": {"refreshToken": "nope"}})
    assert data["logout"]["ok"] is False
    assert data["logout"]["userErrors"][0]["code"] == "INVALID_TOKEN"


async def test_expired_refresh_tokens_are_cleared_at_the_next_sign_in(
    anon_client: GraphQLClient, alice: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    past = datetime(2000, 1, 1, tzinfo=UTC)
    async with services.sessionmaker.begin() as session:
        await session.execute(update(RefreshToken).values(expires_at=past))
    await anon_client.mutate(LOGIN, {"login": "alice", "password": TEST_PASSWORD})
    async with services.sessionmaker() as session:
        left = await session.scalar(select(func.count()).select_from(RefreshToken))
    assert left == 1  # only the new one
