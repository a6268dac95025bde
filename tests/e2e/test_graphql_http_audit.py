"""The npm graphql-http package's GraphQL-over-HTTP audits pass against a live server.

`auditServer` sends some sixty requests (media types, parameters, status codes for
`application/json` and `application/graphql-response+json`); a failed MUST is an
"error", a failed SHOULD a "warn", a failed MAY a "notice". None of the first two may
fail, in the development profile (the audits need introspection, which production
turns off).
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any

from tests.e2e.node_client import run_against_a_server

AUDIT_SECONDS = 120


def describe(audits: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- {a['status']}: {a['id']} {a['name']}\n  reason: {a.get('reason')}\n"
        f"  response: {a.get('response')}"
        for a in audits
    )


def test_graphql_over_http_audits_find_no_must_or_should_failure(tmp_path: Path) -> None:
    run = run_against_a_server("audit.mjs", tmp_path, timeout=AUDIT_SECONDS)
    assert run.returncode == 0, f"the audits did not run:\n{run.stderr}"
    audits: list[dict[str, Any]] = json.loads(run.stdout)

    levels = Counter(a["name"].split()[0] for a in audits)
    # The suite ran whole: a silent empty report must not pass.
    assert levels["MUST"] >= 10 and levels["SHOULD"] >= 20, levels

    failed = [a for a in audits if a["status"] in ("error", "warn")]
    assert failed == [], f"{len(failed)} MUST/SHOULD audits failed:\n{describe(failed)}"
