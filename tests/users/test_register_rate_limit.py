"""register: sign-ups limited per client address, every alias counted."""

from pathlib import Path
from typing import Any

import httpx

from graphql_api.state import AppState
from tests.support.databases import count_rows
from tests.support.ratelimit import (
    assert_rate_limited,
    client_at,
    limited_app,
    login,
    login_outcome,
    register,
)
from tests.support.settings import TEST_PASSWORD
from tests.support.users import sign_up


def registered(response: httpx.Response) -> bool:
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    payload = body["data"]["register"]
    assert payload["userErrors"] == [], payload
    return bool(payload["accessToken"])


async def test_an_address_gets_its_sign_ups_then_waits(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    async with (
        limited_app(database_url, tmp_path, rate_limit_register_per_address="3/minute") as app,
        client_at(app, "203.0.113.7") as http,
        client_at(app, "203.0.113.8") as neighbour,
    ):
        assert registered(await register(http, "sybil0"))
        # A refused sign-up counts too: the limit is checked before anything else.
        taken = (await register(http, "sybil0")).json()["data"]["register"]
        assert [e["code"] for e in taken["userErrors"]] == ["TAKEN"]
        assert registered(await register(http, "sybil1"))
        retry_after = assert_rate_limited(await register(http, "sybil2"))
        assert 55 <= retry_after <= 60
        assert (
            "Too many sign-ups from your address."
            in ((await register(http, "sybil3")).json()["errors"][0]["message"])
        )
        assert await count_rows(services.engine, "users") == 2
        # Another address signs up; signing in is limited apart, also at the full address.
        await sign_up(neighbour, "carol")
        assert login_outcome(await login(http, "carol", TEST_PASSWORD)) == "SIGNED_IN"
        assert login_outcome(await login(http, "sybil0", TEST_PASSWORD)) == "SIGNED_IN"
        assert await count_rows(services.engine, "users") == 3


async def test_every_aliased_sign_up_counts(
    database_url: str, services: AppState, tmp_path: Path
) -> None:
    aliases = " ".join(
        f'r{n}: register(input: {{email: "sybil{n}@example.com", username: "sybil{n}", '
        f'password: "{TEST_PASSWORD}"}}) {{ accessToken }}'
        for n in range(5)
    )
    async with (
        limited_app(
            database_url,
            tmp_path,
            rate_limit_register_per_address="3/minute",
            max_expensive_mutations=5,  # let the aliases through to the rate limit
        ) as app,
        client_at(app) as http,
    ):
        body = (await http.post("/graphql", json={"query": f"mutation {{ {aliases} }}"})).json()
        assert body["data"] is None  # the non-null payloads of the refused ones
        assert {e["extensions"]["code"] for e in body["errors"]} == {"RATE_LIMITED"}
        assert await count_rows(services.engine, "users") == 3
        assert_rate_limited(await register(http, "sybil9"))
