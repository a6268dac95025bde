"""JSON Web Tokens: the one module that knows python-jose.

Every decode names its algorithm list and requires exp, iat, sub, typ, aud, iss and
jti; an access token is never accepted where a refresh token is expected, nor the
reverse.
"""

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from jose import JWTError, jwt

from graphql_api.core.clock import utcnow
from graphql_api.core.settings import Settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "typ", "aud", "iss", "jti")
# Tokens verified lately, kept until they expire: a client sends its token with every
# request, and checking it (~50 µs) cost as much as answering `me`.
VERIFIED_TOKENS = 10_000


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class InvalidToken(Exception):
    """The token is malformed, expired, forged or of the wrong type."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    token_type: TokenType
    token_id: str
    expires_at: datetime
    extra: dict[str, Any]


class TokenCodec:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.signing_key
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._verified: OrderedDict[tuple[str, TokenType], TokenClaims] = OrderedDict()

    def encode(
        self, *, subject: str, token_type: TokenType, ttl: timedelta, **extra: Any
    ) -> tuple[str, TokenClaims]:
        now = utcnow()
        claims = TokenClaims(subject, token_type, secrets.token_urlsafe(16), now + ttl, extra)
        payload = {
            **extra,
            "sub": subject,
            "typ": token_type.value,
            "jti": claims.token_id,
            "iat": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "aud": self._audience,
            "iss": self._issuer,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def decode(self, token: str, expected_type: TokenType) -> TokenClaims:
        key = (token, expected_type)
        claims = self._verified.get(key)
        if claims is None:
            claims = self._verify(token, expected_type)
            self._verified[key] = claims
            if len(self._verified) > VERIFIED_TOKENS:
                self._verified.popitem(last=False)
        else:
            self._verified.move_to_end(key)
        if claims.expires_at <= utcnow():
            self._verified.pop(key, None)
            raise InvalidToken("Signature has expired.")
        return claims

    def _verify(self, token: str, expected_type: TokenType) -> TokenClaims:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    f"require_{claim}": True for claim in ("exp", "iat", "sub", "jti", "aud", "iss")
                },
            )
        except (JWTError, ValueError, TypeError) as exc:
            raise InvalidToken(str(exc)) from None
        if any(claim not in payload for claim in REQUIRED_CLAIMS):
            raise InvalidToken("missing claim")
        if payload["typ"] != expected_type.value:
            raise InvalidToken(f"not an {expected_type.value} token")
        extra = {k: v for k, v in payload.items() if k not in REQUIRED_CLAIMS}
        return TokenClaims(
            subject=str(payload["sub"]),
            token_type=expected_type,
            token_id=str(payload["jti"]),
            expires_at=datetime.fromtimestamp(payload["exp"], tz=utcnow().tzinfo),
            extra=extra,
        )
