from tests.support.client import GraphQLClient
from tests.support.databases import count_rows
from tests.support.settings import TEST_PASSWORD
from tests.support.users import REGISTER


async def test_register_returns_user_and_tokens(anon_client: GraphQLClient) -> None:
    payload = await anon_client.mutate(
        REGISTER, {"email": "Ann@Example.com", "username": "ann", "password": TEST_PASSWORD}
    )
    assert payload["user"]["username"] == "ann"
    assert payload["accessToken"].count(".") == 2
    assert payload["refreshToken"].count(".") == 2
    assert payload["accessToken"] != payload["refreshToken"]


async def test_register_never_returns_the_password_hash(anon_client: GraphQLClient) -> None:
    response = await anon_client.post(
        REGISTER,
        {"input": {"email": "a@example.com", "username": "ann", "password": TEST_PASSWORD}},
    )
    assert "argon2" not in response.text
    assert TEST_PASSWORD not in response.text


async def test_invalid_input_gives_all_user_errors_and_no_row(
    anon_client: GraphQLClient, services
) -> None:  # type: ignore[no-untyped-def]
    data = await anon_client.data(
        REGISTER, {"input": {"email": "not-an-email", "username": "x", "password": "short"}}
    )
    errors = {e["field"][0]: e["code"] for e in data["register"]["userErrors"]}
    assert errors == {"email": "INVALID", "username": "TOO_SHORT", "password": "TOO_SHORT"}
    assert data["register"]["user"] is None
    assert data["register"]["accessToken"] is None
    assert await count_rows(services.engine, "users") == 0


async def test_password_longer_than_1024_is_refused(anon_client: GraphQLClient, services) -> None:  # type: ignore[no-untyped-def]
    data = await anon_client.data(
        REGISTER, {"input": {"email": "a@example.com", "username": "ann", "password": "p" * 1025}}
    )
    assert data["register"]["userErrors"][0]["code"] == "TOO_LONG"
    assert await count_rows(services.engine, "users") == 0


async def test_duplicate_username_and_email_are_user_errors(
    anon_client: GraphQLClient, services
) -> None:  # type: ignore[no-untyped-def]
    await anon_client.mutate(
        REGISTER, {"email": "ann@example.com", "username": "Ann", "password": TEST_PASSWORD}
    )
    same_name = await anon_client.data(
        REGISTER,
        {"input": {"email": "other@example.com", "username": "ANN", "password": TEST_PASSWORD}},
    )
    assert same_name["register"]["userErrors"] == [
        {"field": ["username"], "code": "TAKEN", "message": "This username is already taken."}
    ]
    same_email = await anon_client.data(
        REGISTER,
        {"input": {"email": "ANN@example.com", "username": "other", "password": TEST_PASSWORD}},
    )
    assert same_email["register"]["userErrors"][0]["field"] == ["email"]
    assert same_email["register"]["userErrors"][0]["code"] == "TAKEN"
    assert await count_rows(services.engine, "users") == 1
