"""Parsed and checked documents, kept by query text: clients send the same few queries.

Parsing and validating a document costs more than executing a small query. A document
and the outcome of the checks that depend on it alone (limits and standard validation)
are kept for the `size` most recently used query texts. Long texts are not kept, so that
the cache stays small however many distinct documents clients send.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError

MAX_CACHED_QUERY_LENGTH = 8 * 1024


@dataclass(slots=True)
class CachedDocument:
    document: DocumentNode
    # What the document-only checks found; None until they have run.
    errors: list[GraphQLError] | None = None
    # Its cost (core.graphql.cost), by operation name and the coerced Int and null variables.
    costs: dict[tuple[Any, ...], int] = field(default_factory=dict)


class DocumentCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, CachedDocument] = OrderedDict()

    def get(self, query: str) -> CachedDocument | None:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
        return entry

    def add(self, query: str, document: DocumentNode) -> CachedDocument | None:
        if self.size <= 0 or len(query) > MAX_CACHED_QUERY_LENGTH:
            return None
        entry = self._entries[query] = CachedDocument(document)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return entry
