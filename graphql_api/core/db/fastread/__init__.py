"""Reads that bypass the ORM: records (plain tuples of a model's columns) and prebuilt,
precompiled statements run straight on the driver (SQLite's inline path included).

Rule: kept or deleted as one piece; the loader bases (`core.graphql.loaders`), keyset
pages (`core.graphql.connections`), `of_model` (`core.graphql.relay`) and the features'
loaders and models use it.
"""
