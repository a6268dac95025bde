"""`trusted_documents_only` wherever a document comes from, a WebSocket's included.

The request parsers refuse an untrusted document before it is parsed
(`core.graphql.documents.persisted`);
a WebSocket's operations reach the schema without them, so the schema refuses too, once
a document is parsed: then introspection can be told from the rest, and is let through
while introspection is on (development), so that GraphiQL still shows the schema.
"""

from collections.abc import Callable, Iterator

from graphql import DocumentNode, FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from graphql_api.core.graphql.documents.persisted import PersistedQueryNotInList
from graphql_api.core.manifest import TrustedDocuments
from graphql_api.core.settings import Settings

INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})


def only_introspection(document: DocumentNode) -> bool:
    """Whether every operation of the document asks only about the schema."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(
        isinstance(selection, FieldNode) and selection.name.value in INTROSPECTION_FIELDS
        for operation in operations
        for selection in operation.selection_set.selections
    )


class TrustedDocumentsOnly(SchemaExtension):
    """With `trusted_documents_only`: a document not in the manifest does not run,
    whichever way it came (a WebSocket's included). Introspection runs while it is on."""

    def __init__(self, trusted: TrustedDocuments, *, introspection: bool) -> None:
        super().__init__()
        self.trusted = trusted
        self.introspection = introspection

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if (
            document is not None
            and context.pre_execution_errors is None
            and context.query not in self.trusted.texts
            and not (self.introspection and only_introspection(document))
        ):
            # Set before the query limits run: they, and validation, are then skipped.
            context.pre_execution_errors = [PersistedQueryNotInList()]
        yield


def trusted_documents_extension(settings: Settings) -> Callable[[], SchemaExtension] | None:
    """The extension that enforces `trusted_documents_only`, if it is on."""
    trusted = settings.trusted
    if not settings.trusted_documents_only or trusted is None:
        return None
    introspection = settings.introspection_enabled
    return lambda: TrustedDocumentsOnly(trusted, introspection=introspection)
