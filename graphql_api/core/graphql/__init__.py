"""GraphQL on Strawberry: the request context, permissions, errors and their masking,
Relay ids and connections, mutation payloads, loader bases, query limits, documents.

Rule: imports `core.db`, `core.security` and the foundation, never `core.http` or a
feature. `engine` (plans and the fast executor) is imported by `graphql_api.schema` only.
`internals` is the one module that reads private names of Strawberry, graphql-core and
cross-web (for `core.http` too).
"""
