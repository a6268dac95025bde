"""Helpers the tests share (no tests, no fixtures: those are in the test modules and
tests/conftest.py).

- wait: waiting on a condition, with a deadline and a message saying what never came
- settings: settings for the test apps and the test password
- databases: a database of its own on PostgreSQL, emptying tables, counting statements
- client: GraphQL over HTTP, in process (GraphQLClient) and against a live server (gql)
- users: signing up and in, in process and against a live server (and its operations)
- server: the `graphql-api` command and a live server in a subprocess
- redis: the test Redis, and a relay to it that can slow or cut the line
- users, items, links, chat: operations and helpers of each feature's tests
- ratelimit: an app with the limits a test sets, clients at chosen addresses
- persisted: persisted-query hashes and bodies
- generated: hypothesis examples drawn up front for async tests
- node: the Node.js clients in tests/e2e/node
"""
