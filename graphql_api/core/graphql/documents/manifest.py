"""`graphql-api trusted-manifest`: a manifest of trusted documents (`core.manifest`) from .graphql
files."""

from collections.abc import Iterable
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    print_ast,
    separate_operations,
    validate,
)
from graphql.language import DocumentNode

from graphql_api.core.manifest import APOLLO_FORMAT, ManifestError, sha256_hex


def build_manifest(sources: Iterable[str], schema: GraphQLSchema) -> dict[str, Any]:
    """An Apollo persisted query manifest of every operation in `sources` (.graphql texts).

    Each operation is printed with the fragments it uses, the way graphql-js prints it,
    and named by its SHA-256. Refuses (ManifestError) what would fail on the server
    anyway: an anonymous operation, a name used twice, a document that is not valid.
    """
    definitions: list[Any] = []
    for source in sources:
        try:
            definitions.extend(parse(source).definitions)
        except GraphQLError as exc:
            raise ManifestError(f"the operations do not parse: {exc.message}") from None
    whole = DocumentNode(definitions=tuple(definitions))
    names = [
        d.name.value if d.name else None
        for d in definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    if not names:
        raise ManifestError("no operation found")
    if None in names:
        raise ManifestError("every operation needs a name (the manifest lists them by name)")
    if twice := sorted({name for name in names if name is not None and names.count(name) > 1}):
        raise ManifestError(f"two operations are named {twice[0]}")
    if errors := validate(schema, whole):
        raise ManifestError(f"the operations are not valid: {errors[0].message}")
    entries = []
    for name, document in separate_operations(whole).items():
        body = print_ast(document)
        kind = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        entries.append(
            {"id": sha256_hex(body), "name": name, "type": kind.operation.value, "body": body}
        )
    return {"format": APOLLO_FORMAT, "version": 1, "operations": entries}
