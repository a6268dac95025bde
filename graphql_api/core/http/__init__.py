"""GraphQL over HTTP and WebSocket: the request reader, media types, Strawberry's view,
the WebSocket protocols, the fast path, GraphiQL, and the ASGI middleware.

Rule: imports `core.graphql` and below, never a feature; each middleware is one module
in `middleware/`.
"""
