"""Accounts: registration, profile changes and deletion."""

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.clock import utcnow
from graphql_api.core.db.engine import violates
from graphql_api.core.errors import ErrorCode, FieldError, InvalidInput
from graphql_api.core.security.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PasswordHasher,
)
from graphql_api.core.validation import clean_text, owned_or_admin, text_length
from graphql_api.users.models import RefreshToken, Role, User

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MIN_USERNAME_LENGTH = 3
MAX_USERNAME_LENGTH = 32


def check_username(username: str, errors: list[FieldError], field: str = "username") -> str:
    username = clean_text(username)
    error = text_length(
        field, username, min_length=MIN_USERNAME_LENGTH, max_length=MAX_USERNAME_LENGTH
    )
    if error is None and not USERNAME_PATTERN.fullmatch(username):
        error = FieldError(
            (field,),
            ErrorCode.INVALID,
            "A username has letters, digits, '_', '.' and '-', and starts with a letter or digit.",
        )
    if error:
        errors.append(error)
    return username


def check_email(email: str, errors: list[FieldError], field: str = "email") -> str:
    try:
        # Lower-cased whole: one address, one account, whatever the case it is typed in
        # (and SQLite's lower() folds only ASCII, so the database cannot do it).
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        errors.append(FieldError((field,), ErrorCode.INVALID, f"Invalid email address: {exc}"))
        return email


def check_password(password: str, errors: list[FieldError], field: str = "password") -> None:
    # Not stripped: spaces are part of a passphrase.
    error = text_length(
        field, password, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH
    )
    if error:
        errors.append(error)


async def _save(session: AsyncSession, user: User) -> None:
    """Flush a new or changed user, turning a uniqueness clash into a userError."""
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        for field in ("username", "email"):
            if violates(exc, f"uq_users_{field}_lower"):
                raise InvalidInput.single(
                    field, ErrorCode.TAKEN, f"This {field} is already taken."
                ) from None
        raise


async def register(
    session: AsyncSession,
    *,
    hasher: PasswordHasher,
    email: str,
    username: str,
    password: str,
    role: Role = Role.USER,
) -> User:
    """Create an account; a taken username or email is a userError, decided by the database."""
    errors: list[FieldError] = []
    email = check_email(email, errors)
    username = check_username(username, errors)
    check_password(password, errors)
    if errors:
        raise InvalidInput(errors)
    user = User(
        email=email, username=username, password_hash=await hasher.hash(password), role=role
    )
    await _save(session, user)
    return user


async def get_user(session: AsyncSession, *, user_id: int) -> User | None:
    """The user with this id, or None."""
    return await session.get(User, user_id)


def normalize_login(login: str) -> str:
    """A login as it is looked up: the same account always gives the same string."""
    return login.strip().lower()


async def find_by_login(session: AsyncSession, *, login: str) -> User | None:
    """The user whose username or email is `login`, compared case-insensitively."""
    login = normalize_login(login)
    # lower() on the column matches the unique indexes, so they serve the lookup.
    column = User.email if "@" in login else User.username
    return (await session.execute(select(User).where(func.lower(column) == login))).scalar()


async def _get_for_change(session: AsyncSession, *, user_id: int, actor: User) -> User:
    """The user `actor` may change (themselves, or anyone for an admin), else a userError."""
    user = await session.get(User, user_id, with_for_update=True)
    return owned_or_admin(
        user,
        actor=actor,
        owner_id=user.id if user else None,
        field="id",
        missing="No user has this ID.",
        refused="Only the user themselves or an admin may do this.",
    )


async def update_profile(session: AsyncSession, *, actor: User, changes: dict[str, Any]) -> User:
    """Change the actor's own username and/or email."""
    user = await _get_for_change(session, user_id=actor.id, actor=actor)
    errors: list[FieldError] = []
    if "username" in changes:
        user.username = check_username(changes["username"] or "", errors)
    if "email" in changes:
        user.email = check_email(changes["email"] or "", errors)
    if errors:
        raise InvalidInput(errors)
    await _save(session, user)
    return user


async def change_password(
    session: AsyncSession,
    *,
    hasher: PasswordHasher,
    actor: User,
    current_password: str,
    new_password: str,
) -> User:
    """Set a new password; every session of the user ends (tokens and refresh tokens)."""
    errors: list[FieldError] = []
    check_password(new_password, errors, field="newPassword")
    if errors:
        raise InvalidInput(errors)
    # Both hash computations come before the first statement: no lock is held meanwhile.
    ok, _ = await hasher.verify(current_password[:MAX_PASSWORD_LENGTH], actor.password_hash)
    if not ok:
        raise InvalidInput.single(
            "currentPassword", ErrorCode.INVALID_CREDENTIALS, "The current password is wrong."
        )
    new_hash = await hasher.hash(new_password)
    changed = await session.execute(
        update(User)
        # Unchanged since the check above, else a concurrent change would be overwritten.
        .where(User.id == actor.id, User.token_version == actor.token_version)
        .values(password_hash=new_hash, token_version=User.token_version + 1, updated_at=utcnow())
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        raise InvalidInput.single(
            None, ErrorCode.INVALID_CREDENTIALS, "The account changed meanwhile; sign in again."
        )
    await session.execute(delete(RefreshToken).where(RefreshToken.user_id == actor.id))
    user = await session.get(User, actor.id, populate_existing=True)
    assert user is not None
    return user


async def update_user(
    session: AsyncSession, *, actor: User, user_id: int, changes: dict[str, Any]
) -> User:
    """An admin changes a user's role or active flag (never their own: no self lock-out)."""
    if not actor.is_admin:
        raise InvalidInput.single(None, ErrorCode.NOT_ALLOWED, "Only an admin may do this.")
    user = await _get_for_change(session, user_id=user_id, actor=actor)
    if user.id == actor.id:
        raise InvalidInput.single(
            "id", ErrorCode.NOT_ALLOWED, "Admins cannot change their own role or active flag."
        )
    if changes.get("role") is not None:
        user.role = changes["role"]
    if changes.get("is_active") is not None:
        user.is_active = changes["is_active"]
        if not user.is_active:
            user.token_version = User.token_version + 1
            await session.execute(delete(RefreshToken).where(RefreshToken.user_id == user.id))
    await session.flush()
    await session.refresh(user)
    return user


async def delete_user(session: AsyncSession, *, actor: User, user_id: int) -> int:
    """Delete a user with everything they own (the database cascades)."""
    user = await _get_for_change(session, user_id=user_id, actor=actor)
    await session.execute(delete(User).where(User.id == user.id))
    return user.id
