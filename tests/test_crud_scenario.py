"""The classic scenario, end to end through GraphQL as a client sees it."""

from tests.support.client import GraphQLClient, error_codes
from tests.support.items import CREATE_ITEM, DELETE_ITEM, UPDATE_ITEM
from tests.support.settings import TEST_PASSWORD
from tests.support.users import DELETE_USER, LOGIN, REGISTER

ME = "query { me { id username email role isActive createdAt } }"
MY_ITEMS = """
query { me { items { totalCount nodes { id title price tags } } } }
"""


async def test_register_login_crud_and_delete(anon_client: GraphQLClient) -> None:
    responses = []

    response = await anon_client.post(
        REGISTER,
        {"input": {"email": "dana@example.com", "username": "dana", "password": TEST_PASSWORD}},
    )
    responses.append(response)
    assert response.status_code == 200
    assert response.json()["data"]["register"]["userErrors"] == []

    response = await anon_client.post(
        LOGIN, {"input": {"login": "dana", "password": TEST_PASSWORD}}
    )
    responses.append(response)
    login = response.json()["data"]["login"]
    assert response.status_code == 200 and login["userErrors"] == []
    dana = GraphQLClient(anon_client.http, login["accessToken"])

    me = await dana.data(ME)
    assert me["me"]["username"] == "dana"
    assert me["me"]["email"] == "dana@example.com"
    assert me["me"]["role"] == "USER" and me["me"]["isActive"] is True

    created = await dana.mutate(
        CREATE_ITEM, {"title": "Kettle", "price": "25", "tags": ["kitchen"]}
    )
    item_id = created["item"]["id"]

    listed = await dana.data(MY_ITEMS)
    assert listed["me"]["items"] == {
        "totalCount": 1,
        "nodes": [{"id": item_id, "title": "Kettle", "price": "25.00", "tags": ["kitchen"]}],
    }

    updated = await dana.mutate(UPDATE_ITEM, {"id": item_id, "title": "Electric kettle"})
    assert updated["item"]["title"] == "Electric kettle"

    deleted = await dana.mutate(DELETE_ITEM, {"id": item_id})
    assert deleted["deletedId"] == item_id
    assert (await dana.data(MY_ITEMS))["me"]["items"]["totalCount"] == 0

    gone = await dana.mutate(DELETE_USER, {"id": me["me"]["id"]})
    assert gone["deletedId"] == me["me"]["id"]
    response = await dana.post(ME)
    responses.append(response)
    assert response.status_code == 200
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    relogin = await anon_client.data(LOGIN, {"input": {"login": "dana", "password": TEST_PASSWORD}})
    assert relogin["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"

    for r in responses:
        assert "$argon2" not in r.text
        assert TEST_PASSWORD not in r.text


async def test_password_hash_is_not_in_the_schema(anon_client: GraphQLClient) -> None:
    body = await anon_client.execute('{ __type(name: "User") { fields { name } } }')
    names = {f["name"] for f in body["data"]["__type"]["fields"]}
    assert not {n for n in names if "password" in n.lower()}
    assert "email" in names
