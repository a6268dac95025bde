"""Mutations of the users feature: sign-up, sessions, profile, administration."""

import strawberry

from graphql_api.core.db.engine import write_transaction
from graphql_api.core.graphql.context import Info
from graphql_api.core.graphql.expensive import EXPENSIVE
from graphql_api.core.graphql.payloads import DeletePayload, given_fields, reports_user_errors
from graphql_api.core.graphql.permissions import IsAdmin, IsAuthenticated, enforce
from graphql_api.core.graphql.relay import input_pk, to_global_id
from graphql_api.core.ratelimit import Limit, address_key, opaque_key
from graphql_api.links.redirect import LinkRuntime
from graphql_api.users import auth, service
from graphql_api.users.auth import viewer_user
from graphql_api.users.models import Role
from graphql_api.users.revocation import announce_end
from graphql_api.users.types import AuthPayload, LogoutPayload, UserPayload


@strawberry.input(description="A new account.")
class RegisterInput:
    email: str = strawberry.field(description="A valid email address, unique.")
    username: str = strawberry.field(description="3-32 letters, digits, '_', '.', '-'; unique.")
    password: str = strawberry.field(description="8 to 1024 characters.")


@strawberry.input(description="Credentials.")
class LoginInput:
    login: str = strawberry.field(description="Username or email address.")
    password: str = strawberry.field(description="The account's password.")


@strawberry.input(description="A refresh token to trade for a new token pair.")
class RefreshTokenInput:
    refresh_token: str = strawberry.field(description="The refresh token from the last pair.")


@strawberry.input(description="The session to end.")
class LogoutInput:
    refresh_token: str = strawberry.field(description="The session's current refresh token.")


@strawberry.input(description="Changes to your own profile; omitted fields stay as they are.")
class UpdateMeInput:
    username: str | None = strawberry.field(default=strawberry.UNSET, description="New username.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="New email.")


@strawberry.input(description="A password change; every session ends afterwards.")
class ChangePasswordInput:
    current_password: str = strawberry.field(description="The password in use now.")
    new_password: str = strawberry.field(description="8 to 1024 characters.")


@strawberry.input(description="The user to delete, with everything they own.")
class DeleteUserInput:
    id: strawberry.ID = strawberry.field(
        description="Global ID of the user (you, or any as admin)."
    )


@strawberry.input(description="An admin's change to another user; omitted fields stay.")
class UpdateUserInput:
    id: strawberry.ID = strawberry.field(description="Global ID of the user.")
    role: Role | None = strawberry.field(default=strawberry.UNSET, description="New role.")
    is_active: bool | None = strawberry.field(
        default=strawberry.UNSET, description="False disables the account and ends its sessions."
    )


def _auth_payload(info: Info, session: auth.Session) -> AuthPayload:
    """The payload of a new session, whose user this request has now proved to be."""
    info.context.signed_in(session.user.id)
    return AuthPayload(
        user=session.user,  # type: ignore[arg-type]  # a User for UserType
        access_token=session.access_token,
        refresh_token=session.refresh_token,
    )


@strawberry.type
class UserMutations:
    @strawberry.mutation(
        description="Create an account and sign in. Sign-ups are limited per client "
        "address: over the limit, a RATE_LIMITED error says in `extensions.retryAfter` how "
        "many seconds to wait. Expensive: one operation holds at most one expensive "
        "mutation by default (register, login, changePassword, importShortUrls), else "
        "QUERY_LIMIT_EXCEEDED.",
        metadata=EXPENSIVE,
    )
    @reports_user_errors
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        context = info.context
        state = context.state
        # Counted before the password is hashed, failures too: the hash is the cost.
        await enforce(
            context,
            Limit.REGISTER_PER_ADDRESS,
            address_key(context.client_address),
            reason="Too many sign-ups from your address.",
        )
        async with write_transaction(state.sessionmaker) as session:
            user = await service.register(
                session,
                hasher=state.hasher,
                email=input.email,
                username=input.username,
                password=input.password,
            )
            signed_in = await auth.start_session(
                session, settings=state.settings, tokens=state.tokens, user=user
            )
        return _auth_payload(info, signed_in)

    @strawberry.mutation(
        description="Sign in with a username or email and a password. Attempts are limited "
        "per account and per client address: over a limit, a RATE_LIMITED error says in "
        "`extensions.retryAfter` how many seconds to wait. Expensive: one operation "
        "holds at most one expensive mutation by default.",
        metadata=EXPENSIVE,
    )
    @reports_user_errors
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        context = info.context
        state = context.state
        # Counted before the password is checked, so that concurrent attempts cannot
        # overshoot; the account's count is forgiven once its password is given.
        await enforce(
            context,
            Limit.LOGIN_PER_ADDRESS,
            address_key(context.client_address),
            reason="Too many sign-in attempts from your address.",
        )
        # Per account *and* address: guessing at an account is slowed down wherever it
        # comes from, and nobody elsewhere can lock its owner out.
        account = opaque_key(
            f"{service.normalize_login(input.login)}|{address_key(context.client_address)}"
        )
        await enforce(
            context,
            Limit.LOGIN_PER_ACCOUNT,
            account,
            reason="Too many sign-in attempts for this account.",
        )
        async with state.sessionmaker() as session:
            user, new_hash = await auth.check_credentials(
                session, hasher=state.hasher, login=input.login, password=input.password
            )
        async with write_transaction(state.sessionmaker) as session:
            signed_in = await auth.sign_in(
                session,
                settings=state.settings,
                tokens=state.tokens,
                user=user,
                new_hash=new_hash,
            )
        await state.rate_limits.reset(Limit.LOGIN_PER_ACCOUNT, account)
        return _auth_payload(info, signed_in)

    @strawberry.mutation(
        description="Trade a refresh token for a new pair. A refresh token works once: "
        "presenting it again ends the whole session."
    )
    @reports_user_errors
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> AuthPayload:
        state = info.context.state
        try:
            async with write_transaction(state.sessionmaker) as session:
                signed_in = await auth.refresh(
                    session,
                    settings=state.settings,
                    tokens=state.tokens,
                    refresh_token=input.refresh_token,
                )
        except auth.SessionRevoked as revoked:
            await announce_end(state.broker, user_id=revoked.user_id, family=revoked.family)
            raise
        return _auth_payload(info, signed_in)

    @strawberry.mutation(description="End the session a refresh token belongs to.")
    @reports_user_errors
    async def logout(self, info: Info, input: LogoutInput) -> LogoutPayload:
        state = info.context.state
        async with write_transaction(state.sessionmaker) as session:
            user_id, family = await auth.logout(
                session, tokens=state.tokens, refresh_token=input.refresh_token
            )
        await announce_end(state.broker, user_id=user_id, family=family)
        return LogoutPayload(ok=True)

    @strawberry.mutation(
        description="Change your username or email.", permission_classes=[IsAuthenticated]
    )
    @reports_user_errors
    async def update_me(self, info: Info, input: UpdateMeInput) -> UserPayload:
        async with write_transaction(info.context.sessionmaker) as session:
            user = await service.update_profile(
                session,
                actor=await viewer_user(info),
                changes=given_fields(input, "username", "email"),
            )
        return UserPayload(user=user)  # type: ignore[arg-type]  # a User for UserType

    @strawberry.mutation(
        description="Change your password. All your sessions end: sign in again. "
        "Expensive: one operation holds at most one expensive mutation by default.",
        permission_classes=[IsAuthenticated],
        metadata=EXPENSIVE,
    )
    @reports_user_errors
    async def change_password(self, info: Info, input: ChangePasswordInput) -> UserPayload:
        state = info.context.state
        async with write_transaction(state.sessionmaker) as session:
            user = await service.change_password(
                session,
                hasher=state.hasher,
                actor=await viewer_user(info),
                current_password=input.current_password,
                new_password=input.new_password,
            )
        await announce_end(state.broker, user_id=user.id)
        return UserPayload(user=user)  # type: ignore[arg-type]  # a User for UserType

    @strawberry.mutation(
        description="Delete a user and all they own: yourself, or anyone as an admin.",
        permission_classes=[IsAuthenticated],
    )
    @reports_user_errors
    async def delete_user(self, info: Info, input: DeleteUserInput) -> DeletePayload:
        actor = await viewer_user(info)
        async with write_transaction(info.context.sessionmaker) as session:
            deleted = await service.delete_user(
                session, actor=actor, user_id=input_pk(input.id, "User")
            )
        await announce_end(info.context.state.broker, user_id=deleted)
        await info.context.state.runtime(LinkRuntime).owner_deleted(
            deleted
        )  # their links stop redirecting
        return DeletePayload(deleted_id=to_global_id("User", deleted))

    @strawberry.mutation(
        description="Change another user's role or active flag. Admins only.",
        permission_classes=[IsAdmin],
    )
    @reports_user_errors
    async def update_user(self, info: Info, input: UpdateUserInput) -> UserPayload:
        changes = given_fields(input, "role", "is_active")
        async with write_transaction(info.context.sessionmaker) as session:
            user = await service.update_user(
                session,
                actor=await viewer_user(info),
                user_id=input_pk(input.id, "User"),
                changes=changes,
            )
        if not user.is_active:
            await announce_end(info.context.state.broker, user_id=user.id)
        return UserPayload(user=user)  # type: ignore[arg-type]  # a User for UserType
