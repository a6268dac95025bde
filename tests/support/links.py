"""Operations and helpers of the links tests: user agents, short URL operations."""

import asyncio
from typing import Any

import httpx
import orjson

from tests.support.users import SignedIn, sign_up_over_http
from tests.support.wait import eventually

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

SHORT_URL_FIELDS = """
  id code shortUrl targetUrl title tags isActive redirectStatus validSince expiresAt
  maxVisits visitCount owner { username }
"""
SHORTEN = f"""
mutation Shorten($input: ShortenUrlInput!) {{
  shortenUrl(input: $input) {{
    shortUrl {{ {SHORT_URL_FIELDS} }} userErrors {{ field code message }}
  }}
}}
"""
UPDATE = f"""
mutation Update($input: UpdateShortUrlInput!) {{
  updateShortUrl(input: $input) {{
    shortUrl {{ {SHORT_URL_FIELDS} }} userErrors {{ field code message }}
  }}
}}
"""
SET_ACTIVE = """
mutation SetActive($input: SetShortUrlActiveInput!) {
  setShortUrlActive(input: $input) { shortUrl { code isActive } userErrors { field code message } }
}
"""
DELETE = """
mutation Delete($input: DeleteShortUrlInput!) {
  deleteShortUrl(input: $input) { deletedId userErrors { field code message } }
}
"""
IMPORT = """mutation Import($input: ImportShortUrlsInput!) {
  importShortUrls(input: $input) {
    shortUrls { code targetUrl title tags expiresAt }
    userErrors { field code message }
  }
}"""
SHORT_URL = f"query($code: String!) {{ shortUrl(code: $code) {{ {SHORT_URL_FIELDS} }} }}"


async def shorten(
    owner: SignedIn, url: str = "https://example.com/page", **fields: Any
) -> dict[str, Any]:
    payload = await owner.client.mutate(SHORTEN, {"url": url, **fields})
    return payload["shortUrl"]  # type: ignore[no-any-return]


async def shorten_errors(owner: SignedIn, **input: Any) -> list[tuple[list[str] | None, str]]:
    data = await owner.client.data(SHORTEN, {"input": input})
    assert data["shortenUrl"]["shortUrl"] is None
    return [(e["field"], e["code"]) for e in data["shortenUrl"]["userErrors"]]


async def upload(owner: SignedIn, content: bytes, *, preflight: bool = True) -> httpx.Response:
    """A CSV file sent to importShortUrls as a multipart upload."""
    operations = {"query": IMPORT, "variables": {"input": {"file": None}}}
    headers = {"Authorization": f"Bearer {owner.client.token}"}
    if preflight:
        headers["GraphQL-Require-Preflight"] = "1"
    return await owner.client.http.post(
        "/graphql",
        data={
            "operations": orjson.dumps(operations).decode(),
            "map": orjson.dumps({"0": ["variables.input.file"]}).decode(),
        },
        files={"0": ("links.csv", content, "text/csv")},
        headers=headers,
    )


# Against a live server.
VISIT_COUNT = "query($c: String!) { shortUrl(code: $c) { visitCount visits { totalCount } } }"


async def owner_client(url: str) -> httpx.AsyncClient:
    """A client of the live server at `url`, signed in as a new user, "owner"."""
    token = await sign_up_over_http(url, "owner")
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"})


async def shorten_over_http(client: httpx.AsyncClient, **input: object) -> str:
    """A new short URL of https://example.com/ (and `input`); its code."""
    response = await client.post(
        "/graphql",
        json={"query": SHORTEN, "variables": {"input": {"url": "https://example.com/", **input}}},
    )
    payload = response.json()["data"]["shortenUrl"]
    assert payload["userErrors"] == []
    return payload["shortUrl"]["code"]  # type: ignore[no-any-return]


async def visit_counts(client: httpx.AsyncClient, code: str) -> tuple[int, int]:
    """The link's visitCount and the number of its visit rows."""
    response = await client.post("/graphql", json={"query": VISIT_COUNT, "variables": {"c": code}})
    link = response.json()["data"]["shortUrl"]
    return link["visitCount"], link["visits"]["totalCount"]


async def settled_counts(client: httpx.AsyncClient, code: str, expected: int) -> tuple[int, int]:
    """visitCount and the number of visit rows once `expected` visits are written, and
    a moment later (a count that overshoots it shows)."""
    await eventually(
        lambda: visit_counts(client, code),
        lambda counts: counts[1] >= expected,
        what=f"{expected} visits of {code} written",
    )
    # A duration, not a wait: nothing is there to wait on for visits that should not come.
    await asyncio.sleep(0.5)
    return await visit_counts(client, code)
