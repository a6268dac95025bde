import pytest

from graphql_api.links.validation import CODE_ALPHABET
from tests.support.client import GraphQLClient, error_codes
from tests.support.databases import count_rows
from tests.support.links import SHORTEN, shorten, shorten_errors
from tests.support.users import SignedIn


async def test_random_code_from_the_unambiguous_alphabet(alice: SignedIn) -> None:
    link = await shorten(alice, "https://example.com/a?b=1#c", title="Docs", tags=["Read Me"])
    assert len(link["code"]) == 7
    assert set(link["code"]) <= set(CODE_ALPHABET)
    assert link["shortUrl"] == f"http://127.0.0.1:8000/{link['code']}"
    assert link["targetUrl"] == "https://example.com/a?b=1#c"
    assert (link["title"], link["tags"], link["redirectStatus"]) == ("Docs", ["read-me"], 302)
    assert (link["isActive"], link["visitCount"], link["maxVisits"]) == (True, 0, None)
    assert link["owner"] == {"username": "alice"}
    other = await shorten(alice, "https://example.com/a?b=1#c")
    assert other["code"] != link["code"]


async def test_custom_code_and_settings(alice: SignedIn) -> None:
    link = await shorten(
        alice,
        code="my_Link-1",
        redirectStatus=301,
        maxVisits=5,
        validSince="2020-01-01T00:00:00Z",
        expiresAt="2999-01-01T00:00:00+02:00",
    )
    assert link["code"] == "my_Link-1"
    assert link["redirectStatus"] == 301 and link["maxVisits"] == 5
    assert link["validSince"] == "2020-01-01T00:00:00+00:00"
    assert link["expiresAt"] == "2998-12-31T22:00:00+00:00"


async def test_idn_host_is_stored_as_punycode(alice: SignedIn) -> None:
    link = await shorten(alice, "https://Bücher.example/Straße?q=ä")
    assert link["targetUrl"] == "https://xn--bcher-kva.example/Stra%C3%9Fe?q=%C3%A4"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("javascript:alert(1)", "INVALID"),
        ("JavaScript:alert(1)", "INVALID"),
        ("data:text/html;base64,PHNjcmlwdD4=", "INVALID"),
        ("ftp://example.com/file", "INVALID"),
        ("https://example.com/\r\nSet-Cookie: a=b", "INVALID"),
        ("https://example.com/a\nb", "INVALID"),
        ("https://exa mple.com/", "INVALID"),
        ("https://example.com/\u200bhidden", "INVALID"),
        ("https://example.com/" + "a" * 2029, "TOO_LONG"),  # 2049 bytes
        ("https://user:pass@example.com/", "INVALID"),
        ("https://example.com:99999/", "INVALID"),
        ("https:///no-host", "INVALID"),
        ("http://127.0.0.1:8000/abc1234", "NOT_ALLOWED"),
        ("http://LOCALHOST:8000/abc1234", "NOT_ALLOWED"),
        ("https://127.0.0.1:8443/abc1234", "NOT_ALLOWED"),  # any port or scheme
        ("http://127.1/abc1234", "NOT_ALLOWED"),
        ("http://2130706433/abc1234", "NOT_ALLOWED"),
        ("http://[::1]/abc1234", "NOT_ALLOWED"),
        ("http://[::ffff:127.0.0.1]/abc1234", "NOT_ALLOWED"),
        # Unspecified addresses and the .localhost domain reach this machine too.
        ("http://0.0.0.0:8000/abc1234", "NOT_ALLOWED"),
        ("http://0:8000/abc1234", "NOT_ALLOWED"),
        ("http://0x:8000/abc1234", "NOT_ALLOWED"),  # a browser reads 0.0.0.0
        ("http://[::]:8000/abc1234", "NOT_ALLOWED"),
        ("http://[::ffff:0.0.0.0]:8000/abc1234", "NOT_ALLOWED"),
        ("http://anything.localhost:8000/abc1234", "NOT_ALLOWED"),
        ("http://a.b.LOCALHOST./abc1234", "NOT_ALLOWED"),
        ("http://localhost./abc1234", "NOT_ALLOWED"),
        ("http://0x7f.1/abc1234", "NOT_ALLOWED"),
        ("http://0177.0.0.1/abc1234", "NOT_ALLOWED"),
        ("http://127.0.0.1./abc1234", "NOT_ALLOWED"),
        ("http://127.9.9.9:1234/", "NOT_ALLOWED"),  # any loopback address, any port
        ("http://[fe80::1%25eth0]/", "INVALID"),  # zone IDs
        ("http://[v1.x]/", "INVALID"),  # IPvFuture
        ("http://[::1]x/", "INVALID"),  # text after the bracket
        ("http://[::1/", "INVALID"),
        ("https://xn--/", "INVALID"),
        ("http://a..b/", "INVALID"),
        ("", "REQUIRED"),
    ],
)
async def test_bad_targets_are_refused(alice: SignedIn, services, url: str, code: str) -> None:  # type: ignore[no-untyped-def]
    assert await shorten_errors(alice, url=url) == [(["url"], code)]
    assert await count_rows(services.engine, "short_urls") == 0


async def test_2048_bytes_is_the_limit(alice: SignedIn) -> None:
    url = "https://example.com/" + "a" * 2028
    assert len(url.encode()) == 2048
    assert (await shorten(alice, url))["targetUrl"] == url


@pytest.mark.parametrize(
    "code", ["graphql", "GraphQL", "livez", "READYZ", "metrics", "docs", "static", "Blocked-Word"]
)
async def test_reserved_codes_are_refused(alice: SignedIn, code: str) -> None:
    assert await shorten_errors(alice, url="https://example.com", code=code) == [
        (["code"], "NOT_ALLOWED")
    ]


@pytest.mark.parametrize("code", ["ab", "x" * 65, "with space", "slash/es", "ünï"])
async def test_malformed_custom_codes_are_refused(alice: SignedIn, code: str) -> None:
    assert await shorten_errors(alice, url="https://example.com", code=code) == [
        (["code"], "INVALID")
    ]


async def test_duplicate_custom_code_is_taken(alice: SignedIn, bob: SignedIn, services) -> None:  # type: ignore[no-untyped-def]
    await shorten(alice, code="promo")
    assert await shorten_errors(bob, url="https://example.org", code="promo") == [
        (["code"], "TAKEN")
    ]
    assert await count_rows(services.engine, "short_urls") == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"redirectStatus": 303}, [(["redirectStatus"], "INVALID")]),
        ({"maxVisits": 0}, [(["maxVisits"], "OUT_OF_RANGE")]),
        (
            {"validSince": "2030-01-01T00:00:00Z", "expiresAt": "2029-01-01T00:00:00Z"},
            [(["expiresAt"], "INVALID")],
        ),
        ({"tags": ["ok", "no way!"]}, [(["tags", "1"], "INVALID")]),
        ({"title": "t" * 201}, [(["title"], "TOO_LONG")]),
        ({"expiresAt": "2030-01-01T00:00:00"}, [(["expiresAt"], "INVALID")]),
        ({"expiresAt": "9999-12-31T23:00:00-05:00"}, [(["expiresAt"], "INVALID")]),
        ({"validSince": "0001-01-01T00:00:00+05:00"}, [(["validSince"], "INVALID")]),
    ],
)
async def test_bad_settings_are_refused(alice: SignedIn, services, fields, expected) -> None:  # type: ignore[no-untyped-def]
    assert await shorten_errors(alice, url="https://example.com", **fields) == expected
    assert await count_rows(services.engine, "short_urls") == 0


async def test_anonymous_cannot_shorten(anon_client: GraphQLClient) -> None:
    body = await anon_client.execute(SHORTEN, {"input": {"url": "https://example.com"}})
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_random_code_collision_is_retried(
    alice: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = await shorten(alice, code="Zz23456")
    codes = iter(["Zz23456", "Zz23456", "Yy23456"])
    monkeypatch.setattr("graphql_api.links.service.random_code", lambda length: next(codes))
    link = await shorten(alice)
    assert link["code"] == "Yy23456" != taken["code"]
