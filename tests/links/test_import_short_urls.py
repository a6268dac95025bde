import orjson
import pytest

from tests.support.client import error_codes
from tests.support.links import IMPORT, upload
from tests.support.users import SignedIn

MINE = "{ myShortUrls { totalCount } }"


async def imported(owner: SignedIn, content: bytes) -> dict:  # type: ignore[type-arg]
    response = await upload(owner, content)
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["importShortUrls"]  # type: ignore[no-any-return]


async def test_good_rows_are_created_and_bad_rows_reported(alice: SignedIn) -> None:
    csv = (
        b"url,code,title,tags,expiresAt\n"
        b"https://example.com/a,first,First link,news|Tech,2999-01-01T00:00:00Z\n"
        b"javascript:alert(1),,,,\n"
        b"https://example.com/c,,,,\n"
        b"https://example.com/d,graphql,,,\n"
        b"https://example.com/e,first,,,\n"
        b"https://example.com/f,,,,not-a-date\n"
        b'"https://example.com/g?a=1,2",,"Quoted, with comma",,\n'
    )
    result = await imported(alice, csv)
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        (["file", "3", "url"], "INVALID"),
        (["file", "5", "code"], "NOT_ALLOWED"),
        (["file", "6", "code"], "TAKEN"),
        (["file", "7", "expiresAt"], "INVALID"),
    ]
    assert result["userErrors"][0]["message"].startswith("Line 3: ")
    links = result["shortUrls"]
    assert [link["targetUrl"] for link in links] == [
        "https://example.com/a",
        "https://example.com/c",
        "https://example.com/g?a=1,2",
    ]
    assert links[0] == {
        "code": "first",
        "targetUrl": "https://example.com/a",
        "title": "First link",
        "tags": ["news", "tech"],
        "expiresAt": "2999-01-01T00:00:00+00:00",
    }
    assert links[2]["title"] == "Quoted, with comma"
    assert (await alice.client.data(MINE))["myShortUrls"]["totalCount"] == 3


async def test_rows_that_loop_back_are_refused(alice: SignedIn) -> None:
    csv = (
        b"url\n"
        b"http://0.0.0.0:8000/a\n"
        b"http://0:8000/b\n"
        b"http://[::]:8000/c\n"
        b"http://anything.localhost:8000/d\n"
        b"http://2130706433/e\n"
        b"https://example.com/kept\n"
    )
    result = await imported(alice, csv)
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        (["file", str(line), "url"], "NOT_ALLOWED") for line in range(2, 7)
    ]
    assert [link["targetUrl"] for link in result["shortUrls"]] == ["https://example.com/kept"]
    assert (await alice.client.data(MINE))["myShortUrls"]["totalCount"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"code,title\nabc,x\n", "`url`"),
        (b"url,colour\nhttps://example.com,red\n", "Unknown columns: colour"),
        (b"\xff\xfe\x00u\x00r\x00l", "UTF-8"),
        (b'url\n"https://example.com/unterminated\n', "Malformed CSV"),
    ],
)
async def test_unreadable_files_are_one_user_error(
    alice: SignedIn, content: bytes, message: str
) -> None:
    result = await imported(alice, content)
    assert result["shortUrls"] == []
    (error,) = result["userErrors"]
    assert error["field"] == ["file"] and message in error["message"]
    assert (await alice.client.data(MINE))["myShortUrls"]["totalCount"] == 0


async def test_too_many_cells_in_a_row(alice: SignedIn) -> None:
    result = await imported(alice, b"url\nhttps://example.com/a,extra\n")
    assert [e["field"] for e in result["userErrors"]] == [["file", "2"]]


async def test_upload_without_preflight_header_is_refused(alice: SignedIn) -> None:
    response = await upload(alice, b"url\nhttps://example.com/a\n", preflight=False)
    assert response.status_code == 400
    assert "Preflight" in response.text
    assert (await alice.client.data(MINE))["myShortUrls"]["totalCount"] == 0


async def test_anonymous_import_is_unauthenticated(anon_client, alice: SignedIn) -> None:  # type: ignore[no-untyped-def]
    operations = {"query": IMPORT, "variables": {"input": {"file": None}}}
    response = await anon_client.http.post(
        "/graphql",
        data={
            "operations": orjson.dumps(operations).decode(),
            "map": orjson.dumps({"0": ["variables.input.file"]}).decode(),
        },
        files={"0": ("links.csv", b"url\nhttps://example.com\n", "text/csv")},
        headers={"GraphQL-Require-Preflight": "1"},
    )
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


async def test_file_sent_as_json_is_a_user_error(alice: SignedIn) -> None:
    data = await alice.client.data(IMPORT, {"input": {"file": "url\nhttps://example.com\n"}})
    assert data["importShortUrls"]["userErrors"][0]["field"] == ["file"]


@pytest.mark.parametrize(
    "file_map",
    [[1], {"0": ["variables.input.file.x.y"]}, {"0": ["variables.input.99"]}, {"0": "nope"}],
)
async def test_malformed_multipart_map_is_400(alice: SignedIn, file_map: object) -> None:
    operations = {"query": IMPORT, "variables": {"input": {"file": None}}}
    response = await alice.client.http.post(
        "/graphql",
        data={
            "operations": orjson.dumps(operations).decode(),
            "map": orjson.dumps(file_map).decode(),
        },
        files={"0": ("links.csv", b"url\nhttps://example.com\n", "text/csv")},
        headers={"Authorization": f"Bearer {alice.client.token}", "GraphQL-Require-Preflight": "1"},
    )
    assert 400 <= response.status_code < 500 or "errors" in response.json(), response.text
    assert response.status_code < 500
    assert "Internal server error" not in response.text
