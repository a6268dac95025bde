"""Password hashing: the one module that knows passlib.

argon2id for new hashes; bcrypt hashes (from an older system) still verify and are
replaced on the next successful login. Hashing runs in a worker thread: at ~100 ms of
CPU it would otherwise stall every other request on the event loop.
"""

import anyio.to_thread
from passlib.context import CryptContext

from graphql_api.core.settings import Settings

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
BCRYPT_MAX_BYTES = 72


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._context = CryptContext(
            schemes=["argon2", "bcrypt"],
            deprecated=["bcrypt"],
            argon2__type="ID",
            argon2__memory_cost=settings.argon2_memory_kib,
            argon2__rounds=settings.argon2_time_cost,
            argon2__parallelism=settings.argon2_parallelism,
        )
        # Verified against when the account does not exist, so that an unknown
        # login costs the same time as a wrong password (prevents user enumeration).
        self._dummy_hash = self._context.hash("not the password of anyone")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._context.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Check a password; on success also return a new hash when the stored one is outdated."""
        if password_hash is None:
            await anyio.to_thread.run_sync(self._context.verify, password, self._dummy_hash)
            return False, None
        secret: str | bytes = password
        if password_hash.startswith(BCRYPT_PREFIXES):
            # bcrypt only ever read 72 bytes; bcrypt 5 refuses more instead of ignoring them.
            secret = password.encode()[:BCRYPT_MAX_BYTES]
        try:
            return await anyio.to_thread.run_sync(
                self._context.verify_and_update, secret, password_hash
            )
        except ValueError:  # a malformed stored hash, or a secret bcrypt cannot take
            return False, None
