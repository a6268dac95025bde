"""Access tokens that must be refused: every way a token can be wrong."""

import base64
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from jose import jwt

from graphql_api.core.security import tokens
from graphql_api.core.security.tokens import InvalidToken, TokenType
from tests.support.client import GraphQLClient, error_codes
from tests.support.users import SignedIn

ME = "query { me { username } }"


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, object]:
    return jwt.get_unverified_claims(token)


async def me_with(client: GraphQLClient, token: str) -> dict[str, object]:
    return await GraphQLClient(client.http, token).execute(ME)


async def test_valid_token_identifies_the_user(alice: SignedIn) -> None:
    assert (await alice.client.data(ME))["me"] == {"username": "alice"}


async def test_no_token_means_anonymous(anon_client: GraphQLClient) -> None:
    assert (await anon_client.data(ME))["me"] is None


def forge(services, **changes: object) -> str:  # type: ignore[no-untyped-def]
    """A token signed with the server's key, with some claims changed."""
    now = int(time.time())
    claims = {
        "sub": "1",
        "typ": "access",
        "jti": "j",
        "iat": now,
        "exp": now + 60,
        "aud": services.settings.jwt_audience,
        "iss": services.settings.jwt_issuer,
        "ver": 0,
        **changes,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, services.settings.signing_key, algorithm="HS256")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"exp": int(time.time()) - 10}, id="expired"),
        pytest.param({"aud": "someone-else"}, id="wrong-audience"),
        pytest.param({"iss": "someone-else"}, id="wrong-issuer"),
        pytest.param({"typ": "refresh"}, id="refresh-type"),
        pytest.param({"exp": None}, id="no-exp"),
        pytest.param({"iat": None}, id="no-iat"),
        pytest.param({"jti": None}, id="no-jti"),
        pytest.param({"typ": None}, id="no-typ"),
        pytest.param({"ver": 1}, id="old-token-version"),
        pytest.param({"sub": None}, id="no-sub"),
        pytest.param({"aud": None}, id="no-aud"),
        pytest.param({"iss": None}, id="no-iss"),
        pytest.param({"sub": "not-a-number"}, id="bad-sub"),
    ],
)
async def test_forged_claims_are_refused(alice: SignedIn, services, changes) -> None:  # type: ignore[no-untyped-def]
    token = forge(services, **{"sub": str(claims_of(alice.client.token)["sub"]), **changes})  # type: ignore[arg-type]
    body = await me_with(alice.client, token)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None or body["data"]["me"] is None


async def test_the_forge_helper_makes_acceptable_tokens(alice: SignedIn, services) -> None:  # type: ignore[no-untyped-def]
    # Guards the test above: with no change the forged token works.
    claims = claims_of(alice.client.token)  # type: ignore[arg-type]
    token = forge(services, sub=str(claims["sub"]), sid=claims["sid"])
    assert (await GraphQLClient(alice.client.http, token).data(ME))["me"]["username"] == "alice"


async def test_tampered_payload_is_refused(alice: SignedIn) -> None:
    header, _, signature = alice.client.token.split(".")  # type: ignore[union-attr]
    claims = claims_of(alice.client.token)  # type: ignore[arg-type]
    tampered = b64({**claims, "sub": "999"})
    body = await me_with(alice.client, f"{header}.{tampered}.{signature}")
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_alg_none_is_refused(alice: SignedIn) -> None:
    claims = claims_of(alice.client.token)  # type: ignore[arg-type]
    for alg in ("none", "None", "NONE"):
        token = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."
        assert error_codes(await me_with(alice.client, token)) == ["UNAUTHENTICATED"]


async def test_other_algorithm_is_refused(alice: SignedIn, services) -> None:  # type: ignore[no-untyped-def]
    claims = claims_of(alice.client.token)  # type: ignore[arg-type]
    token = jwt.encode(claims, services.settings.signing_key, algorithm="HS512")
    assert error_codes(await me_with(alice.client, token)) == ["UNAUTHENTICATED"]


async def test_other_key_is_refused(alice: SignedIn) -> None:
    claims = claims_of(alice.client.token)  # type: ignore[arg-type]
    token = jwt.encode(claims, "another-key-" + "y" * 40, algorithm="HS256")
    assert error_codes(await me_with(alice.client, token)) == ["UNAUTHENTICATED"]


async def test_refresh_token_is_not_an_access_token(alice: SignedIn) -> None:
    assert claims_of(alice.refresh_token)["typ"] == TokenType.REFRESH.value
    assert error_codes(await me_with(alice.client, alice.refresh_token)) == ["UNAUTHENTICATED"]


async def test_garbage_and_non_bearer_credentials_are_refused(alice: SignedIn) -> None:
    for header in ("Bearer not-a-jwt", "Basic YWxpY2U6cGFzcw==", "Token abc"):
        response = await alice.client.http.post(
            "/graphql", json={"query": ME}, headers={"Authorization": header}
        )
        assert response.status_code == 200
        assert error_codes(response.json()) == ["UNAUTHENTICATED"]


async def test_a_token_verified_before_is_refused_once_expired(  # type: ignore[no-untyped-def]
    services, monkeypatch: pytest.MonkeyPatch
) -> None:
    codec = services.tokens
    token, _ = codec.encode(subject="7", token_type=TokenType.ACCESS, ttl=timedelta(minutes=5))
    assert codec.decode(token, TokenType.ACCESS).subject == "7"
    assert codec.decode(token, TokenType.ACCESS).subject == "7"  # the verified one, kept
    with pytest.raises(InvalidToken):
        codec.decode(token, TokenType.REFRESH)  # kept per type: still not a refresh token
    # The clock moves past `exp` (a second past: `exp` is whole seconds), not the test.
    expires = datetime.fromtimestamp(jwt.get_unverified_claims(token)["exp"], UTC)
    monkeypatch.setattr(tokens, "utcnow", lambda: expires + timedelta(seconds=1))
    with pytest.raises(InvalidToken):
        codec.decode(token, TokenType.ACCESS)
