"""Statements sent straight to the SQLite or asyncpg driver, skipping SQLAlchemy's execution.

Rule: imported by `core.db.records` alone (an import-linter contract holds it), so keeping
or deleting it is one change there; it reads SQLAlchemy's private names only through
`core.db.internals`.
"""
