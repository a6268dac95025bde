"""Prometheus metrics: operations by name and type, errors by code, redirects, subscriptions.

With several workers (`graphql-api serve --workers N`), the CLI points every worker at
one `PROMETHEUS_MULTIPROC_DIR`: each writes its values to files there, and `/metrics`
sums them all, whichever worker answers. prometheus_client reads the variable when it
is imported, so it must be set before this module is.
"""

import asyncio
import collections
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Operation names come from clients: past this many per process, new ones count as one.
MAX_OPERATION_NAMES = 200
OTHER = "_other"
ANONYMOUS = "_anonymous"

OPERATIONS = Counter(
    "graphql_api_operations",
    "GraphQL operations answered, by operation name and type.",
    ["operation", "type"],
)
DURATION = Histogram(
    "graphql_api_operation_duration_seconds",
    "Time to answer a GraphQL operation (for a subscription: to set it up).",
    ["operation", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter("graphql_api_errors", "Errors in GraphQL answers, by extensions.code.", ["code"])
REDIRECTS = Counter(
    "graphql_api_redirects", "Answers to short-link requests, by HTTP status.", ["status"]
)
EVENT_EXECUTIONS = Counter(
    "graphql_api_subscription_event_executions",
    "Subscription events executed: one per subscriber and event, or with fan-out one per "
    "shape (and viewer, where the answer depends on who asks) and event.",
)
SUBSCRIPTIONS = Gauge(
    "graphql_api_active_subscriptions",
    "Subscriptions open now, by field.",
    ["field"],
    multiprocess_mode="livesum",
)

_operation_names: set[str] = set()
_children: dict[tuple[str, str], tuple[Any, Any]] = {}


def operation_label(name: str | None) -> str:
    if not name:
        return ANONYMOUS
    if name not in _operation_names:
        if len(_operation_names) >= MAX_OPERATION_NAMES:
            return OTHER
        _operation_names.add(name)
    return name


def record_operation(
    name: str | None, kind: str, seconds: float, errors: Sequence[Any] = ()
) -> None:
    """Count one answered operation and the codes of its errors (GraphQL errors)."""
    key = (operation_label(name), kind)
    children = _children.get(key)
    if children is None:
        children = _children[key] = (OPERATIONS.labels(*key), DURATION.labels(*key))
    children[0].inc()
    children[1].observe(seconds)
    for error in errors:
        code = (error.extensions or {}).get("code")
        ERRORS.labels(code if isinstance(code, str) else "UNCODED").inc()


# Redirects are the hottest path: counted in a plain dict, added to the metric every
# second and before each scrape (a locked increment per redirect cost ~8% of one).
_redirects: collections.Counter[int] = collections.Counter()
FLUSH_SECONDS = 1.0


def record_redirect(status: int) -> None:
    _redirects[status] += 1


def flush_redirects() -> None:
    counted = list(_redirects.items())
    _redirects.clear()
    for status, n in counted:
        REDIRECTS.labels(str(status)).inc(n)


async def flush_redirects_every_second() -> None:
    """Runs for the app's life, so that other workers' redirects reach /metrics too."""
    try:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            flush_redirects()
    finally:
        flush_redirects()


@asynccontextmanager
async def open_subscription(field: str) -> AsyncIterator[None]:
    """Count a subscription as open while the block runs."""
    gauge = SUBSCRIPTIONS.labels(field)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, of every worker, and its content type."""
    flush_redirects()
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        # prometheus-client leaves this constructor unannotated.
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
