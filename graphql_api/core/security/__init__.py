"""Secrets: password hashing (the one passlib module) and signed tokens (the one jose module).

Rule: imports only the foundation (`core`); no web or GraphQL library.
"""
