"""The engine: queries compiled once into plans and run level by level, falling back to
graphql-core for anything a plan cannot answer exactly as graphql-core would.

Rule: imported from `graphql_api.schema` alone (and the fast path reaches it through
`schema.plans`), so that turning it off (`GRAPHQL_API_DOCUMENT_CACHE_SIZE=0`) or deleting
it is a small change. Held by the differential tests (plans versus graphql-core).
"""
