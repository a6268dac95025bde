"""Trusted documents: the manifest of the operations a client build may send.

The tools that persist a client's operations write one of two shapes, and both are read:

- a flat JSON object of id to document text: Relay's `persistConfig: {"file": ...}`,
  GraphQL Code Generator's client preset (`persisted-documents.json`) and most others;
- Apollo's persisted query manifest, `{"format": "apollo-persisted-query-manifest",
  "version": 1, "operations": [{"id", "name", "type", "body"}]}`, as
  `@apollo/generate-persisted-query-manifest` and Apollo Kotlin and iOS write it (and
  `graphql-api trusted-manifest`).

An id is whatever its tool hashed with (MD5 for Relay, SHA-1 or SHA-256 for the others),
so ids are looked up exactly as written. Every text can also be found by its own SHA-256,
which is what Apollo's persisted-queries link sends: any manifest then serves it.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson

APOLLO_FORMAT = "apollo-persisted-query-manifest"
# A manifest is written by a build, not by a client; this only stops a wrong file.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


class ManifestError(ValueError):
    """The manifest cannot be used; the message says what is wrong with it."""


def sha256_hex(text: str) -> str:
    """The id Apollo's clients give a document: SHA-256 of its UTF-8 text, lowercase hex."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class TrustedDocuments:
    """The documents of a manifest, by their ids and by their texts."""

    by_id: Mapping[str, str]
    texts: frozenset[str]

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, str]) -> "TrustedDocuments":
        by_id = {sha256_hex(text): text for text in manifest.values()}
        by_id.update(manifest)  # a manifest's own id wins over a text's hash
        return cls(by_id=by_id, texts=frozenset(manifest.values()))


def load_manifest(path: Path) -> TrustedDocuments:
    """The trusted documents of a manifest file, in either shape."""
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ManifestError(f"bigger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB")
        content = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"cannot be read ({exc.strerror or exc})") from None
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise ManifestError(f"is not JSON ({exc})") from None
    documents = _apollo_operations(data) if _is_apollo(data) else _flat_map(data)
    if not documents:
        raise ManifestError("holds no documents")
    return TrustedDocuments.from_manifest(documents)


def _is_apollo(data: object) -> bool:
    return isinstance(data, dict) and data.get("format") == APOLLO_FORMAT


def _apollo_operations(data: dict[str, Any]) -> dict[str, str]:
    if data.get("version") != 1:
        raise ManifestError(f"is an Apollo manifest of version {data.get('version')!r}, not 1")
    operations = data.get("operations")
    if not isinstance(operations, list):
        raise ManifestError('is an Apollo manifest without an "operations" list')
    documents: dict[str, str] = {}
    for n, operation in enumerate(operations):
        entry = operation if isinstance(operation, dict) else {}
        key, body = entry.get("id"), entry.get("body")
        if not _usable(key, body):
            raise ManifestError(f'operation {n} needs an "id" and a "body" (non-empty strings)')
        documents[cast(str, key)] = cast(str, body)  # _usable has checked both
    return documents


def _flat_map(data: object) -> dict[str, str]:
    if not isinstance(data, dict):
        raise ManifestError(
            "must be a JSON object of id to document (Relay, GraphQL Code Generator) "
            f'or an Apollo persisted query manifest ("format": "{APOLLO_FORMAT}")'
        )
    for key, text in data.items():
        if not _usable(key, text):
            raise ManifestError(f"the entry {key[:80]!r} is not a document text (a string)")
    return data


def _usable(key: object, text: object) -> bool:
    return isinstance(key, str) and bool(key) and isinstance(text, str) and bool(text.strip())
