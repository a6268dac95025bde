"""The database: the declarative base and column types, the engine and its transactions,
migrations, and keyset pagination in SQL.

Rule: SQLAlchemy and the foundation only; no web or GraphQL library. `fastread` is the
read path that bypasses the ORM. `internals` is the one module that reads SQLAlchemy's
internals.
"""
