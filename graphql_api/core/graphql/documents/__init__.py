"""Documents: the cache of parsed and checked documents, persisted queries (APQ) and
trusted documents.

Rule: part of `core.graphql`; the HTTP and WebSocket readers call it to find a
document's text.
"""
