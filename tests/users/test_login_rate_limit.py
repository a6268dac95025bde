"""login: attempts limited per account and per client address."""

from pathlib import Path

from graphql_api.state import AppState
from tests.support.ratelimit import (
    assert_rate_limited,
    client_at,
    limited_app,
    login,
    login_outcome,
)
from tests.support.settings import TEST_PASSWORD
from tests.support.users import sign_up


async def test_an_account_gets_its_attempts_then_waits(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, rate_limit_login_per_account="3/minute") as app,
        client_at(app) as http,
    ):
        await sign_up(http, "carol")
        await sign_up(http, "dave")
        # Spelled as the lookup normalises it, each names the same account.
        for name in ("carol", " CAROL ", "Carol"):
            assert login_outcome(await login(http, name, "wrong password")) == (
                "INVALID_CREDENTIALS"
            )
        # Even the right password waits: the limit is checked before the password.
        retry_after = assert_rate_limited(await login(http, "carol", TEST_PASSWORD))
        assert 55 <= retry_after <= 60
        assert login_outcome(await login(http, "dave", TEST_PASSWORD)) == "SIGNED_IN"


async def test_a_successful_sign_in_forgives_the_accounts_failures(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, rate_limit_login_per_account="3/minute") as app,
        client_at(app) as http,
    ):
        await sign_up(http, "carol")
        outcomes = [
            login_outcome(await login(http, "carol", password))
            for password in ("wrong 1", "wrong 2", TEST_PASSWORD, "wrong 3", "wrong 4", "wrong 5")
        ]
        assert outcomes == ["INVALID_CREDENTIALS"] * 2 + ["SIGNED_IN"] + ["INVALID_CREDENTIALS"] * 3
        assert_rate_limited(await login(http, "carol", "wrong 6"))


async def test_an_unknown_login_is_limited_like_a_known_one(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, rate_limit_login_per_account="2/minute") as app,
        client_at(app) as http,
    ):
        for _ in range(2):
            assert login_outcome(await login(http, "nobody", "pw pw pw pw")) == (
                "INVALID_CREDENTIALS"
            )
        assert_rate_limited(await login(http, "nobody", "pw pw pw pw"))


async def test_every_attempt_from_an_address_counts(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, rate_limit_login_per_address="4/minute") as app,
        client_at(app, "203.0.113.7") as http,
        client_at(app, "203.0.113.8") as neighbour,
    ):
        await sign_up(http, "carol")
        # A success counts too; the other three are different accounts.
        assert login_outcome(await login(http, "carol", TEST_PASSWORD)) == "SIGNED_IN"
        for name in ("erin", "frank", "grace"):
            assert login_outcome(await login(http, name, "pw pw pw pw")) == "INVALID_CREDENTIALS"
        retry_after = assert_rate_limited(await login(http, "carol", TEST_PASSWORD))
        assert 55 <= retry_after <= 60
        assert login_outcome(await login(neighbour, "carol", TEST_PASSWORD)) == "SIGNED_IN"


async def test_ipv6_addresses_count_per_64_prefix(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, rate_limit_login_per_address="2/minute") as app,
        client_at(app, "2001:db8:1:2::1") as first,
        client_at(app, "2001:db8:1:2:ffff::9") as same_prefix,
        client_at(app, "2001:db8:1:3::1") as other_prefix,
    ):
        await sign_up(first, "carol")
        assert login_outcome(await login(first, "carol", TEST_PASSWORD)) == "SIGNED_IN"
        assert login_outcome(await login(same_prefix, "carol", TEST_PASSWORD)) == "SIGNED_IN"
        assert_rate_limited(await login(first, "carol", TEST_PASSWORD))
        assert_rate_limited(await login(same_prefix, "carol", TEST_PASSWORD))
        assert login_outcome(await login(other_prefix, "carol", TEST_PASSWORD)) == "SIGNED_IN"


async def test_failures_elsewhere_do_not_lock_the_owner_out(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, rate_limit_login_per_account="3/minute") as app,
        client_at(app, "198.51.100.1") as owner,
        client_at(app, "203.0.113.66") as attacker,
    ):
        await sign_up(owner, "carol")
        for n in range(3):
            await login(attacker, "carol", f"guess {n}")
        assert_rate_limited(await login(attacker, "carol", "guess 4"))
        assert login_outcome(await login(owner, "carol", TEST_PASSWORD)) == "SIGNED_IN"
