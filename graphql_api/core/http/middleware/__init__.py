"""ASGI middleware, one per module: body size limit, request id, security headers."""
