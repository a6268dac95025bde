"""Signing up and in, in process (SignedIn, with its client) and against a live server."""

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from graphql_api.state import AppState
from tests.support.client import GraphQLClient, gql
from tests.support.settings import TEST_PASSWORD

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    user { id username }
    accessToken
    refreshToken
    userErrors { field code message }
  }
}
"""


@dataclass
class SignedIn:
    client: GraphQLClient
    id: str
    username: str
    refresh_token: str
    extra: dict[str, Any] = field(default_factory=dict)


async def sign_up(
    http: httpx.AsyncClient, username: str, *, admin: bool = False, services: AppState | None = None
) -> SignedIn:
    """Register through the API (an admin is then promoted directly in the database)."""
    payload = await GraphQLClient(http).mutate(
        REGISTER,
        {"email": f"{username}@example.com", "username": username, "password": TEST_PASSWORD},
    )
    if admin:
        assert services is not None
        async with services.engine.begin() as conn:
            await conn.execute(
                text("UPDATE users SET role = 'ADMIN' WHERE username = :u"), {"u": username}
            )
    return SignedIn(
        GraphQLClient(http, payload["accessToken"]),
        payload["user"]["id"],
        username,
        payload["refreshToken"],
    )


async def register_over_http(url: str, name: str, password: str = TEST_PASSWORD) -> dict[str, Any]:
    """Register `name` with the live server at `url`: the AuthPayload (user, tokens)."""
    new = {"email": f"{name}@example.com", "username": name, "password": password}
    payload: dict[str, Any] = await gql(url, None, REGISTER, {"input": new})
    assert payload["userErrors"] == [], payload
    return payload


async def sign_up_over_http(url: str, name: str) -> str:
    """Register `name` with the live server at `url`; its access token."""
    return (await register_over_http(url, name))["accessToken"]  # type: ignore[no-any-return]


LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) {
    user { username }
    accessToken
    refreshToken
    userErrors { field code message }
  }
}
"""


REFRESH = """
mutation Refresh($input: RefreshTokenInput!) {
  refreshToken(input: $input) {
    user { username }
    accessToken
    refreshToken
    userErrors { field code message }
  }
}
"""


LOGOUT = """
mutation Logout($input: LogoutInput!) {
  logout(input: $input) { ok userErrors { field code message } }
}
"""


DELETE_USER = """
mutation DeleteUser($input: DeleteUserInput!) {
  deleteUser(input: $input) { deletedId userErrors { field code message } }
}
"""
