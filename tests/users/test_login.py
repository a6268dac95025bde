import time

from sqlalchemy import text

from graphql_api.core.security.passwords import PasswordHasher
from tests.support.client import GraphQLClient
from tests.support.settings import TEST_PASSWORD
from tests.support.users import LOGIN, SignedIn, sign_up

ME = "query { me { username } }"


async def test_login_by_username_or_email_any_case(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    for login in ("alice", "ALICE", "alice@example.com", "Alice@Example.COM"):
        payload = await anon_client.mutate(LOGIN, {"login": login, "password": TEST_PASSWORD})
        assert payload["user"]["username"] == "alice"
        me = await GraphQLClient(anon_client.http, payload["accessToken"]).data(ME)
        assert me["me"]["username"] == "alice"


async def test_wrong_password_and_unknown_user_fail_alike(
    anon_client: GraphQLClient, alice: SignedIn
) -> None:
    wrong = await anon_client.data(LOGIN, {"input": {"login": "alice", "password": "wrong-pass"}})
    unknown = await anon_client.data(
        LOGIN, {"input": {"login": "nobody", "password": TEST_PASSWORD}}
    )
    assert wrong == unknown
    assert wrong["login"]["accessToken"] is None
    assert wrong["login"]["userErrors"] == [
        {
            "field": None,
            "code": "INVALID_CREDENTIALS",
            "message": "The login or the password is wrong.",
        }
    ]


async def test_wrong_password_and_unknown_user_take_similar_time(
    anon_client: GraphQLClient, services
) -> None:  # type: ignore[no-untyped-def]
    # A realistic hashing cost, so that skipping the hash would show clearly.
    services.hasher = PasswordHasher(
        services.settings.model_copy(update={"argon2_memory_kib": 16384, "argon2_time_cost": 2})
    )

    async def timed(login: str) -> float:
        started = time.perf_counter()
        await anon_client.data(LOGIN, {"input": {"login": login, "password": "wrong-pass"}})
        return time.perf_counter() - started

    try:
        await sign_up(anon_client.http, "carol")
        # The fastest of several tries: the cost of the path itself, without the noise of
        # whatever else the machine is doing.
        known = min([await timed("carol") for _ in range(9)])
        unknown = min([await timed("nobody") for _ in range(9)])
    finally:
        services.hasher = PasswordHasher(services.settings)
    assert 0.5 < unknown / known < 2, (known, unknown)
    assert known > 0.005  # the hash really ran


async def test_disabled_user_cannot_log_in(
    anon_client: GraphQLClient, alice: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    async with services.engine.begin() as conn:
        await conn.execute(text("UPDATE users SET is_active = false"))
    data = await anon_client.data(LOGIN, {"input": {"login": "alice", "password": TEST_PASSWORD}})
    assert data["login"]["userErrors"][0]["code"] == "ACCOUNT_DISABLED"
    assert data["login"]["accessToken"] is None


async def test_bcrypt_hash_is_verified_and_upgraded(
    anon_client: GraphQLClient, alice: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    import bcrypt

    legacy = bcrypt.hashpw(TEST_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    async with services.engine.begin() as conn:
        await conn.execute(text("UPDATE users SET password_hash = :h"), {"h": legacy})
    await anon_client.mutate(LOGIN, {"login": "alice", "password": TEST_PASSWORD})
    async with services.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT password_hash FROM users"))).scalar_one()
    assert stored.startswith("$argon2id$")
    # And the upgraded hash still accepts the password.
    await anon_client.mutate(LOGIN, {"login": "alice", "password": TEST_PASSWORD})


async def test_long_bcrypt_password_still_logs_in(
    anon_client: GraphQLClient, alice: SignedIn, services
) -> None:  # type: ignore[no-untyped-def]
    import bcrypt

    long_password = "ü" * 50  # 100 bytes: bcrypt only ever read the first 72
    legacy = bcrypt.hashpw(long_password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    async with services.engine.begin() as conn:
        await conn.execute(text("UPDATE users SET password_hash = :h"), {"h": legacy})
    await anon_client.mutate(LOGIN, {"login": "alice", "password": long_password})
    wrong = await anon_client.data(LOGIN, {"input": {"login": "alice", "password": "x" * 100}})
    assert wrong["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_non_ascii_email_logs_in_in_any_case(anon_client: GraphQLClient) -> None:
    from tests.support.users import REGISTER

    await anon_client.mutate(
        REGISTER, {"email": "Üser@Example.com", "username": "uuser", "password": TEST_PASSWORD}
    )
    for login in ("Üser@Example.com", "üser@example.com", "ÜSER@EXAMPLE.COM"):
        await anon_client.mutate(LOGIN, {"login": login, "password": TEST_PASSWORD})
    taken = await anon_client.data(
        REGISTER,
        {"input": {"email": "üser@example.com", "username": "other", "password": TEST_PASSWORD}},
    )
    assert taken["register"]["userErrors"][0]["code"] == "TAKEN"
