"""The foundation: settings, domain errors, the clock, the broker, rate limits, logs, metrics.

Rule: nothing here imports strawberry, starlette, fastapi or graphql, nor any feature.
Each room below adds one concern on top, and imports only downwards:
`http` above `graphql` above `db` and `security` above these modules.
"""
