"""The rate limiter: its settings, where counts live, and limits held across app instances."""

import logging
from pathlib import Path

import pytest
import redis.asyncio
from limits import parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
from pydantic import ValidationError

from graphql_api.core.ratelimit import Limit, RateLimiter, address_key
from graphql_api.core.settings import Settings
from graphql_api.state import AppState
from tests.support.ratelimit import (
    assert_rate_limited,
    client_at,
    limited_app,
    login,
    login_outcome,
    register,
)
from tests.support.redis import REDIS_URL
from tests.support.settings import TEST_PASSWORD, settings_for_tests
from tests.support.users import sign_up


def test_production_defaults_are_real_limits() -> None:
    settings = Settings(env="production", secret_key="k" * 48)
    assert settings.rate_limit_login_per_account == "10/minute"
    assert settings.rate_limit_login_per_address == "30/minute;300/hour"
    assert settings.rate_limit_register_per_address == "5/minute;20/hour"
    assert settings.rate_limit_shorten_per_user == "1000/hour;10000/day"
    assert settings.rate_limit_not_found_per_address == "60/minute;600/hour"
    assert settings.rate_limit_url is None


@pytest.mark.parametrize("value", ["", "lots", "10 per fortnight", "0/minute", "5/minute;x"])
def test_a_malformed_limit_is_refused_with_its_setting_named(value: str) -> None:
    with pytest.raises(ValidationError, match="GRAPHQL_API_RATE_LIMIT_SHORTEN_PER_USER"):
        Settings(rate_limit_shorten_per_user=value)


def test_several_windows_and_the_environment_are_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRAPHQL_API_RATE_LIMIT_LOGIN_PER_ACCOUNT", "5/minute; 20 per hour")
    assert Settings().rate_limit_login_per_account == "5/minute; 20 per hour"


def test_an_unsupported_storage_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="GRAPHQL_API_RATE_LIMIT_URL"):
        Settings(rate_limit_url="memcached://127.0.0.1:11211")


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:a:b:c:d:e:f", "2001:db8:a:b::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        (None, "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_client_addresses_are_counted_by_whom_they_stand_for(host: str | None, key: str) -> None:
    assert address_key(host) == key


async def test_a_request_must_fit_every_window_and_a_refusal_uses_none() -> None:
    storage = MemoryStorage()
    limiter = RateLimiter(storage, {Limit.SHORTEN_PER_USER: parse_many("10/minute;3/hour")})
    assert [await limiter.hit(Limit.SHORTEN_PER_USER, "7") for _ in range(3)] == [None] * 3
    for _ in range(5):  # the hour refuses, with the hour's wait
        retry_after = await limiter.hit(Limit.SHORTEN_PER_USER, "7")
        assert retry_after is not None and 3590 <= retry_after <= 3600
    assert await limiter.hit(Limit.SHORTEN_PER_USER, "8", cost=4) is not None
    # Read through the minute window alone: only the three accepted hits used it.
    minute = RateLimiter(storage, {Limit.SHORTEN_PER_USER: parse_many("10/minute")})
    assert [await minute.hit(Limit.SHORTEN_PER_USER, "7") for _ in range(8)] == [None] * 7 + [
        pytest.approx(60, abs=5)
    ]
    assert [await minute.hit(Limit.SHORTEN_PER_USER, "8") for _ in range(11)] == [None] * 10 + [
        pytest.approx(60, abs=5)
    ]
    assert await minute.hit(Limit.SHORTEN_PER_USER, "9", cost=10) is None
    # Refused by both windows: the wait is the longer one's.
    both = RateLimiter(storage, {Limit.SHORTEN_PER_USER: parse_many("2/minute;2/hour")})
    assert [await both.hit(Limit.SHORTEN_PER_USER, "10") for _ in range(3)] == [None] * 2 + [
        pytest.approx(3600, abs=10)
    ]
    await limiter.close()


async def test_counts_live_in_memory_unless_redis_is_configured(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with limited_app(database_url, tmp_path) as app:
        assert isinstance(app.state.services.rate_limits.storage, MemoryStorage)
    for overrides, kind in [
        ({"broker_url": REDIS_URL}, RedisStorage),
        ({"rate_limit_url": REDIS_URL}, RedisStorage),
        ({"broker_url": REDIS_URL, "rate_limit_url": "memory://"}, MemoryStorage),
    ]:
        limiter = RateLimiter.from_settings(settings_for_tests(database_url, tmp_path, **overrides))
        try:
            assert isinstance(limiter.storage, kind), overrides
        finally:
            await limiter.close()


async def test_two_app_instances_on_one_redis_share_the_login_limit(
    database_url: str, services: AppState, tmp_path: Path, redis_prefix: str
) -> None:
    limits = {
        "rate_limit_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "rate_limit_login_per_account": "5/minute",
    }
    async with (
        limited_app(database_url, tmp_path, **limits) as first_app,
        limited_app(database_url, tmp_path, **limits) as second_app,
        client_at(first_app) as first,
        client_at(second_app) as second,
    ):
        await sign_up(first, "carol")
        for http in (first, first, first, second, second):
            assert login_outcome(await login(http, "Carol", "wrong password")) == (
                "INVALID_CREDENTIALS"
            )
        assert_rate_limited(await login(first, "carol", TEST_PASSWORD))
        assert_rate_limited(await login(second, "carol", TEST_PASSWORD))
    client = redis.asyncio.from_url(REDIS_URL)
    try:
        keys = [key.decode() async for key in client.scan_iter(match=f"{redis_prefix}*")]
    finally:
        await client.aclose()
    assert keys, "the counts are in Redis, under the deployment's prefix"
    assert all(key.startswith(f"{redis_prefix}ratelimit:") for key in keys)
    assert not any("carol" in key.lower() for key in keys), "login names are not stored"


async def test_two_app_instances_on_one_redis_share_the_register_limit(
    database_url: str, services: AppState, tmp_path: Path, redis_prefix: str
) -> None:
    limits = {
        "rate_limit_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "rate_limit_register_per_address": "3/minute",
    }
    async with (
        limited_app(database_url, tmp_path, **limits) as first_app,
        limited_app(database_url, tmp_path, **limits) as second_app,
        client_at(first_app) as first,
        client_at(second_app) as second,
    ):
        for http, name in ((first, "carol"), (second, "dave"), (first, "erin")):
            await sign_up(http, name)
        assert_rate_limited(await register(second, "frank"))
        assert_rate_limited(await register(first, "frank"))


async def test_two_app_instances_on_one_redis_share_the_not_found_limit(
    database_url: str, services: AppState, tmp_path: Path, redis_prefix: str
) -> None:
    limits = {
        "rate_limit_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "rate_limit_not_found_per_address": "2/minute",
    }
    async with (
        limited_app(database_url, tmp_path, **limits) as first_app,
        limited_app(database_url, tmp_path, **limits) as second_app,
        client_at(first_app) as first,
        client_at(second_app) as second,
    ):
        assert (await first.get("/nothing1")).status_code == 404
        assert (await second.get("/nothing2")).status_code == 404
        assert (await first.get("/nothing3")).status_code == 429
        assert (await second.get("/nothing4")).status_code == 429


async def test_an_unreachable_redis_lets_requests_through(
    database_url: str, services: AppState, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Port 1 on this host refuses connections: Redis is down, not slow.
    unreachable = {
        "rate_limit_url": "redis://127.0.0.1:1/0",
        "rate_limit_login_per_account": "1/minute",
    }
    async with (
        limited_app(database_url, tmp_path, **unreachable) as app,
        client_at(app) as http,
    ):
        await sign_up(http, "carol")
        with caplog.at_level(logging.WARNING, logger="graphql_api.ratelimit"):
            for _ in range(2):
                assert login_outcome(await login(http, "carol", TEST_PASSWORD)) == "SIGNED_IN"
            assert (await http.get("/nothing")).status_code == 404
    assert any("not checked, request allowed" in r.getMessage() for r in caplog.records)


async def test_browsers_on_allowed_origins_can_read_retry_after(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(
            database_url,
            tmp_path,
            cors_origins=["https://app.example"],
            rate_limit_login_per_address="1/minute",
        ) as app,
        client_at(app) as http,
    ):
        http.headers["Origin"] = "https://app.example"
        assert login_outcome(await login(http, "nobody", "pw pw pw pw")) == "INVALID_CREDENTIALS"
        refused = await login(http, "nobody", "pw pw pw pw")
        assert_rate_limited(refused)
        exposed = refused.headers["access-control-expose-headers"].lower().split(", ")
        assert "retry-after" in exposed
