"""Operations and helpers shared by the links tests."""

from typing import Any

from tests.conftest import SignedIn

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
