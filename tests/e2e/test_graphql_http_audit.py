"""The npm graphql-http package's GraphQL-over-HTTP audits pass against a live server.

`auditServer` sends some sixty requests (media types, parameters, status codes for
`application/json` and `application/graphql-response+json`); a failed MUST is an
"error", a failed SHOULD a "warn", a failed MAY a "notice". None of the first two may
fail in the development profile. Production turns introspection off, and a few audits
send `__type` queries: those, and only those, may fail there.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any

from tests.e2e.test_production_profile import SECRET
from tests.support.node import run_against_a_server

AUDIT_SECONDS = 120
INTROSPECTION_DISABLED = "GraphQL introspection has been disabled"


def describe(audits: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- {a['status']}: {a['id']} {a['name']}\n  reason: {a.get('reason')}\n"
        f"  response: {a.get('response')}"
        for a in audits
    )


def audit(tmp_path: Path, **env_extra: str) -> list[dict[str, Any]]:
    """The audits' MUST and SHOULD failures against a live server with this environment."""
    run = run_against_a_server("audit.mjs", tmp_path, timeout=AUDIT_SECONDS, **env_extra)
    assert run.returncode == 0, f"the audits did not run:\n{run.stderr}"
    audits: list[dict[str, Any]] = json.loads(run.stdout)
    levels = Counter(a["name"].split()[0] for a in audits)
    # The suite ran whole: a silent empty report must not pass.
    assert levels["MUST"] >= 10 and levels["SHOULD"] >= 20, levels
    return [a for a in audits if a["status"] in ("error", "warn")]


def test_graphql_over_http_audits_find_no_must_or_should_failure(tmp_path: Path) -> None:
    failed = audit(tmp_path)
    assert failed == [], f"{len(failed)} MUST/SHOULD audits failed:\n{describe(failed)}"


def test_in_production_only_the_audits_that_need_introspection_fail(tmp_path: Path) -> None:
    failed = audit(tmp_path, GRAPHQL_API_ENV="production", GRAPHQL_API_SECRET_KEY=SECRET)
    other = [a for a in failed if INTROSPECTION_DISABLED not in str(a.get("response"))]
    assert other == [], f"{len(other)} audits failed for another reason:\n{describe(other)}"
