"""Settings for the test apps: cheap password hashing, a throwaway secret, generous limits."""

import os
from pathlib import Path
from typing import Any

from graphql_api.core.settings import Settings

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_PASSWORD = "correct horse battery"

# Tests sign in, shorten and miss links far faster than people: limits they never reach,
# except in the tests of the limits, which set their own.
GENEROUS_RATE_LIMITS = {
    "rate_limit_login_per_account": "100000/minute",
    "rate_limit_login_per_address": "100000/minute",
    "rate_limit_register_per_address": "100000/minute",
    "rate_limit_shorten_per_user": "100000/minute",
    "rate_limit_not_found_per_address": "100000/minute",
    "rate_limit_persisted_queries_per_address": "100000/minute",
}


def settings_for_tests(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for tests: cheap password hashing, a throwaway secret, generous rate limits."""
    options: dict[str, Any] = {
        "database_url": database_url,
        "reserved_codes": ["blocked-word"],
        "secret_key": "test-secret-" + "x" * 40,
        "secret_file": tmp_path / "secret",
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        "argon2_parallelism": 1,
        **GENEROUS_RATE_LIMITS,
    }
    return Settings(**{**options, **overrides})
