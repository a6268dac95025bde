"""Trusted documents: a manifest (`core.graphql.documents.manifest`), and with
`trusted_documents_only` nothing else.

The manifest shapes are the ones the tools write: a flat map of id to text (Relay's
`persistConfig.file` with MD5 ids, GraphQL Code Generator's `persisted-documents.json`
with SHA-1 or SHA-256 ones) and Apollo's persisted query manifest.
"""

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from graphql_api.core.graphql.documents.manifest import build_manifest
from graphql_api.core.manifest import ManifestError, load_manifest
from graphql_api.core.settings import Settings
from graphql_api.schema import build_schema
from graphql_api.state import AppState
from tests.support.client import error_codes, fast_path_of
from tests.support.persisted import COUNT, NOT_FOUND, fresh, sha256
from tests.support.ratelimit import client_at, limited_app
from tests.support.settings import TEST_PASSWORD
from tests.support.users import REGISTER

# As Relay prints them: the id is the MD5 of this text, not of a reprint.
TRUSTED = "query TrustedCount {\n  items {\n    totalCount\n  }\n}\n"
TRUSTED_ME = "query TrustedMe { me { username } }"
INTROSPECTION = "query Types { __schema { queryType { name } } }"
NOT_IN_LIST = {
    "message": "This server runs only its trusted documents, and this is not one of them.",
    "extensions": {"code": "PERSISTED_QUERY_NOT_IN_LIST"},
}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def relay_manifest() -> dict[str, Any]:
    return {md5(TRUSTED): TRUSTED, md5(TRUSTED_ME): TRUSTED_ME}


def codegen_manifest() -> dict[str, Any]:
    return {sha1(TRUSTED): TRUSTED, sha1(TRUSTED_ME): TRUSTED_ME}


def apollo_manifest() -> dict[str, Any]:
    return {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha256(text), "name": name, "type": "query", "body": text}
            for name, text in (("TrustedCount", TRUSTED), ("TrustedMe", TRUSTED_ME))
        ],
    }


MANIFESTS = {"relay": (relay_manifest, md5), "codegen": (codegen_manifest, sha1)}
MANIFESTS["apollo"] = (apollo_manifest, sha256)


def write(path: Path, content: object) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def by_id(key: str, query: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": key}}}
    if query is not None:
        body["query"] = query
    return body


@pytest.fixture
async def trusted_app(
    database_url: str, services: AppState, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    """An app that runs only the Relay manifest's documents."""
    manifest = write(tmp_path / "persisted_queries.json", relay_manifest())
    settings = {"trusted_documents": manifest, "trusted_documents_only": True}
    async with limited_app(database_url, tmp_path, **settings) as app:
        yield app


@pytest.fixture
async def trusted_only(trusted_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_at(trusted_app) as http:
        yield http


@pytest.mark.parametrize("shape", sorted(MANIFESTS))
async def test_each_tools_manifest_serves_its_ids_and_the_texts_own_sha256(
    database_url: str, services: AppState, tmp_path: Path, shape: str
) -> None:
    make, hashed = MANIFESTS[shape]
    manifest = write(tmp_path / "manifest.json", make())
    async with (
        limited_app(database_url, tmp_path, trusted_documents=manifest) as app,
        client_at(app) as http,
    ):
        for key in (hashed(TRUSTED), sha256(TRUSTED)):
            response = await http.post("/graphql", json=by_id(key))
            assert response.json() == {"data": {"items": {"totalCount": 0}}}, key
            got = await http.get(
                "/graphql", params={"extensions": json.dumps(by_id(key)["extensions"])}
            )
            assert got.json() == {"data": {"items": {"totalCount": 0}}}
        # Not trusted-only: other documents run, and register as usual.
        other = fresh(COUNT)
        assert (await http.post("/graphql", json=by_id(sha256(other)))).json()["errors"] == [
            NOT_FOUND
        ]
        assert "errors" not in (await http.post("/graphql", json={"query": other})).json()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param("{not json", "is not JSON", id="not-json"),
        pytest.param(
            ["query A { me { id } }"], "must be a JSON object of id to document", id="list"
        ),
        pytest.param({"abc": 12}, "the entry 'abc' is not a document text", id="not-a-text"),
        pytest.param({}, "holds no documents", id="empty"),
        pytest.param(
            {"format": "apollo-persisted-query-manifest", "version": 2, "operations": []},
            "is an Apollo manifest of version 2, not 1",
            id="apollo-version-2",
        ),
        pytest.param(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": "x"}],
            },
            'operation 0 needs an "id" and a "body"',
            id="apollo-no-body",
        ),
    ],
)
def test_a_manifest_that_cannot_be_used_stops_the_start_with_its_reason(
    tmp_path: Path, content: object, reason: str
) -> None:
    manifest = write(tmp_path / "manifest.json", content)
    with pytest.raises(ValidationError, match=f"GRAPHQL_API_TRUSTED_DOCUMENTS {manifest} .*"):
        Settings(trusted_documents=manifest)
    with pytest.raises(ValueError, match=reason.replace("(", r"\(")):
        load_manifest(manifest)


def test_trusted_documents_only_needs_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="needs GRAPHQL_API_TRUSTED_DOCUMENTS"):
        Settings(trusted_documents_only=True)
    with pytest.raises(ValidationError, match="cannot be read"):
        Settings(trusted_documents=tmp_path / "missing.json")


async def test_trusted_only_runs_the_manifests_documents_by_id_or_text(
    trusted_only: httpx.AsyncClient,
) -> None:
    expected = {"data": {"items": {"totalCount": 0}}}
    for response in (
        await trusted_only.post("/graphql", json=by_id(md5(TRUSTED))),
        await trusted_only.post("/graphql", json=by_id(sha256(TRUSTED))),
        await trusted_only.post("/graphql", json=by_id(md5(TRUSTED), TRUSTED)),
        await trusted_only.post("/graphql", json={"query": TRUSTED}),
        await trusted_only.get("/graphql", params={"query": TRUSTED}),
    ):
        assert response.json() == expected


async def test_trusted_only_refuses_any_other_document_and_runs_nothing(
    trusted_only: httpx.AsyncClient, database_url: str, services: AppState, tmp_path: Path
) -> None:
    sign_up = {
        "query": REGISTER,
        "variables": {
            "input": {"email": "eve@example.com", "username": "eve", "password": TEST_PASSWORD}
        },
    }
    for _ in range(2):  # and again, once the document would be cached
        for response in (
            await trusted_only.post("/graphql", json=sign_up),
            await trusted_only.post("/graphql", json={"query": COUNT}),
            await trusted_only.get("/graphql", params={"query": COUNT}),
        ):
            assert response.status_code == 200
            assert response.json() == {"data": None, "errors": [NOT_IN_LIST]}
    spec = await trusted_only.post(
        "/graphql", json={"query": COUNT}, headers={"Accept": "application/graphql-response+json"}
    )
    assert spec.status_code == 400
    assert spec.json() == {"errors": [NOT_IN_LIST]}
    # The sign-up never ran: the user does not exist.
    async with limited_app(database_url, tmp_path) as app, client_at(app) as open_http:
        taken = await open_http.post("/graphql", json=sign_up)
    assert taken.json()["data"]["register"]["userErrors"] == []


async def test_trusted_only_registers_nothing(trusted_only: httpx.AsyncClient) -> None:
    other = fresh(COUNT)
    # An unknown hash is not "not found": Apollo's link must not send the document.
    assert (await trusted_only.post("/graphql", json=by_id(sha256(other)))).json()["errors"] == [
        NOT_IN_LIST
    ]
    registering = await trusted_only.post("/graphql", json=by_id(sha256(other), other))
    assert registering.json()["errors"] == [NOT_IN_LIST]
    assert (await trusted_only.post("/graphql", json=by_id(sha256(other)))).json()["errors"] == [
        NOT_IN_LIST
    ]
    # A manifest id names its own document and no other.
    swapped = await trusted_only.post("/graphql", json=by_id(md5(TRUSTED), TRUSTED_ME))
    assert error_codes(swapped.json()) == ["PERSISTED_QUERY_HASH_MISMATCH"]


async def test_the_fast_path_answers_trusted_documents_by_id_and_never_others(
    trusted_app: FastAPI, trusted_only: httpx.AsyncClient
) -> None:
    fast, http = fast_path_of(trusted_app), trusted_only
    for _ in range(3):
        await http.post("/graphql", json={"query": COUNT})
    assert fast.answered == 0
    first = await http.post("/graphql", json=by_id(md5(TRUSTED)))
    second = await http.get(
        "/graphql", params={"extensions": json.dumps(by_id(md5(TRUSTED))["extensions"])}
    )
    assert fast.answered == 1
    assert first.content == second.content


@pytest.mark.parametrize("introspection", [True, False])
async def test_introspection_alone_runs_in_trusted_only_mode_while_introspection_is_on(
    database_url: str, services: AppState, tmp_path: Path, introspection: bool
) -> None:
    manifest = write(tmp_path / "persisted_queries.json", relay_manifest())
    settings = {
        "trusted_documents": manifest,
        "trusted_documents_only": True,
        "introspection": introspection,
    }
    async with limited_app(database_url, tmp_path, **settings) as app, client_at(app) as http:
        schema = await http.post("/graphql", json={"query": INTROSPECTION})
        if introspection:
            assert schema.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
        else:
            assert schema.json()["errors"] == [NOT_IN_LIST]
        # Beside a real field, introspection is no way in.
        mixed = await http.post("/graphql", json={"query": "{ __typename me { username } }"})
        assert mixed.json()["errors"] == [NOT_IN_LIST]


OPERATIONS = """
query Count { items { totalCount } }
query Who { me { ...Names } }
fragment Names on User { username }
"""


def test_trusted_manifest_writes_each_operation_with_its_fragments_by_sha256() -> None:
    schema = build_schema(Settings(introspection=True))._schema
    manifest = build_manifest([OPERATIONS], schema)
    assert manifest["format"] == "apollo-persisted-query-manifest" and manifest["version"] == 1
    operations = {operation["name"]: operation for operation in manifest["operations"]}
    assert operations["Who"]["body"] == (
        "query Who {\n  me {\n    ...Names\n  }\n}\n\nfragment Names on User {\n  username\n}"
    )
    assert "Names" not in operations["Count"]["body"]
    for operation in operations.values():
        assert operation["id"] == sha256(operation["body"]) and operation["type"] == "query"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        pytest.param("query { me { username } }", "every operation needs a name", id="anonymous"),
        pytest.param(
            OPERATIONS + "query Count { me { id } }", "two operations are named Count", id="twice"
        ),
        pytest.param("query Bad { me { nothing } }", "the operations are not valid", id="invalid"),
        pytest.param("query Cut { me {", "the operations do not parse", id="syntax"),
        pytest.param("fragment F on User { id }", "no operation found", id="no-operation"),
    ],
)
def test_trusted_manifest_refuses_what_would_fail_on_the_server(source: str, reason: str) -> None:
    schema = build_schema(Settings(introspection=True))._schema
    with pytest.raises(ManifestError, match=reason):
        build_manifest([source], schema)
