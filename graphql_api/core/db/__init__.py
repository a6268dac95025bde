"""The database: the declarative base and column types, the engine and its transactions,
migrations, keyset pagination in SQL, and records (read models) with the `Read` that loads
them.

Rule: SQLAlchemy and the foundation only; no web or GraphQL library. `fastread` sends
record reads straight to the driver and is imported by `records` alone. `internals` is the
one module that reads SQLAlchemy's internals.
"""
