"""Sign-in and sessions: access tokens, rotating refresh tokens, and who the viewer is."""

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.clock import utcnow
from graphql_api.core.errors import ErrorCode, FieldError, InvalidInput
from graphql_api.core.graphql.context import Context, Info
from graphql_api.core.graphql.errors import Unauthenticated
from graphql_api.core.security.passwords import MAX_PASSWORD_LENGTH, PasswordHasher
from graphql_api.core.security.tokens import InvalidToken, TokenClaims, TokenCodec, TokenType
from graphql_api.core.settings import Settings
from graphql_api.users import service
from graphql_api.users.loaders import UserBySessionLoader
from graphql_api.users.models import RefreshToken, User

BAD_ACCESS_TOKEN = "Invalid or expired access token, or its session has ended."


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    access_token: str
    refresh_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _invalid_credentials() -> InvalidInput:
    return InvalidInput.single(
        None, ErrorCode.INVALID_CREDENTIALS, "The login or the password is wrong."
    )


_INVALID_TOKEN = FieldError(
    ("refreshToken",),
    ErrorCode.INVALID_TOKEN,
    "The refresh token is invalid, expired or already used.",
)


def _invalid_token() -> InvalidInput:
    return InvalidInput([_INVALID_TOKEN])


class SessionRevoked(InvalidInput):
    """A used refresh token came back: its session was revoked (and that is committed)."""

    def __init__(self, user_id: int, family: str) -> None:
        super().__init__([_INVALID_TOKEN], keep_changes=True)
        self.user_id = user_id
        self.family = family


async def start_session(
    session: AsyncSession,
    *,
    settings: Settings,
    tokens: TokenCodec,
    user: User,
    family: str | None = None,
) -> Session:
    """Issue an access token and a refresh token (stored only as its hash)."""
    family = family or secrets.token_urlsafe(32)
    # The access token names its session: it works only while the session lives.
    access, _ = tokens.encode(
        subject=str(user.id),
        token_type=TokenType.ACCESS,
        ttl=settings.access_token_ttl,
        ver=user.token_version,
        sid=family,
    )
    # Expired tokens are kept for nothing (reuse detection needs only live ones): the
    # table stays as small as the user's live sessions.
    await session.execute(
        delete(RefreshToken).where(
            RefreshToken.user_id == user.id, RefreshToken.expires_at <= utcnow()
        )
    )
    refresh, claims = tokens.encode(
        subject=str(user.id),
        token_type=TokenType.REFRESH,
        ttl=settings.refresh_token_ttl,
        fam=family,
        ver=user.token_version,
    )
    session.add(
        RefreshToken(
            user_id=user.id,
            family=family,
            token_hash=_digest(refresh),
            expires_at=claims.expires_at,
        )
    )
    await session.flush()
    return Session(user, access, refresh)


async def check_credentials(
    session: AsyncSession, *, hasher: PasswordHasher, login: str, password: str
) -> tuple[User, str | None]:
    """The active user a login and password belong to, and a new hash if theirs is outdated.

    An unknown login and a wrong password fail alike, in alike time. Run it in a read
    session: the slow hash check must not hold a write lock.
    """
    user = await service.find_by_login(session, login=login)
    ok, new_hash = await hasher.verify(
        password[:MAX_PASSWORD_LENGTH], user.password_hash if user else None
    )
    if user is None or not ok:
        raise _invalid_credentials()
    if not user.is_active:
        raise InvalidInput.single(None, ErrorCode.ACCOUNT_DISABLED, "This account is disabled.")
    return user, new_hash


async def sign_in(
    session: AsyncSession,
    *,
    settings: Settings,
    tokens: TokenCodec,
    user: User,
    new_hash: str | None,
) -> Session:
    """Start a session for credentials checked against `user` as it was read.

    The account is read again under lock: if its password changed or it was disabled
    while the hash was being checked, the credentials no longer hold.
    """
    current = await session.get(User, user.id, with_for_update=True, populate_existing=True)
    if (
        current is None
        or not current.is_active
        or current.password_hash != user.password_hash
        or current.token_version != user.token_version
    ):
        raise _invalid_credentials()
    if new_hash:
        current.password_hash = new_hash
    return await start_session(session, settings=settings, tokens=tokens, user=current)


async def _claim(
    session: AsyncSession, tokens: TokenCodec, refresh_token: str
) -> tuple[Row[*tuple[Any, ...]], TokenClaims]:
    """The stored state of a valid refresh JWT, locked, or an INVALID_TOKEN userError.

    The lock makes a concurrent second use of the same token wait for the first, and
    then see it used: reuse is detected even in a race.
    """
    try:
        claims = tokens.decode(refresh_token, TokenType.REFRESH)
    except InvalidToken:
        raise _invalid_token() from None
    stored = (
        await session.execute(
            select(
                RefreshToken.id,
                RefreshToken.user_id,
                RefreshToken.family,
                RefreshToken.used_at,
                RefreshToken.revoked,
            )
            .where(RefreshToken.token_hash == _digest(refresh_token))
            .with_for_update()
        )
    ).first()
    if stored is None:
        raise _invalid_token()
    return stored, claims


async def refresh(
    session: AsyncSession, *, settings: Settings, tokens: TokenCodec, refresh_token: str
) -> Session:
    """Rotate a refresh token. Presenting one already used revokes its whole family."""
    stored, claims = await _claim(session, tokens, refresh_token)
    if stored.used_at is not None or stored.revoked:
        await _revoke_family(session, stored.family)
        raise SessionRevoked(stored.user_id, stored.family)
    user = await service.get_user(session, user_id=stored.user_id)
    if user is None or not user.is_active or claims.extra.get("ver") != user.token_version:
        raise _invalid_token()
    await session.execute(
        update(RefreshToken).where(RefreshToken.id == stored.id).values(used_at=utcnow())
    )
    return await start_session(
        session, settings=settings, tokens=tokens, user=user, family=stored.family
    )


async def logout(
    session: AsyncSession, *, tokens: TokenCodec, refresh_token: str
) -> tuple[int, str]:
    """End the session the refresh token belongs to (its whole family): its user and family."""
    stored, _ = await _claim(session, tokens, refresh_token)
    await _revoke_family(session, stored.family)
    return stored.user_id, stored.family


async def _revoke_family(session: AsyncSession, family: str) -> None:
    await session.execute(
        update(RefreshToken).where(RefreshToken.family == family).values(revoked=True)
    )


async def authenticate(context: Context, token: str) -> User:
    """The active user of a live session an access token speaks for; else UNAUTHENTICATED."""
    try:
        claims = context.state.tokens.decode(token, TokenType.ACCESS)
        user_id = int(claims.subject)
        family = claims.extra["sid"]
    except (InvalidToken, ValueError, KeyError):
        raise Unauthenticated(BAD_ACCESS_TOKEN) from None
    if not isinstance(family, str):
        raise Unauthenticated(BAD_ACCESS_TOKEN)
    user: User | None = await context.loader(UserBySessionLoader).load((user_id, family))
    if user is None or not user.is_active or claims.extra.get("ver") != user.token_version:
        raise Unauthenticated(BAD_ACCESS_TOKEN)
    return user


async def viewer_user(info: Info) -> User:
    """The signed-in user of a request; UNAUTHENTICATED without one."""
    return cast(User, await info.context.require_viewer())
