"""Read models (`core.db.records`): reads load records, not ORM instances, and lose
nothing."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

from graphql_api.core.db.records import instance_of
from graphql_api.items.models import Item, ItemRecord
from graphql_api.items.types import ItemType
from graphql_api.users.models import Role, User, UserRecord
from graphql_api.users.types import UserType
from tests.support.client import GraphQLClient
from tests.support.users import SignedIn

USERS = """
query Users {
  users(first: 10) {
    nodes {
      id username role
      items(first: 5) { nodes { id title price priceWithTax owner { username } } }
    }
  }
  items(first: 10) { nodes { id title owner { username } } }
  me { username email }
}
"""
CREATE_ITEM = """
mutation CreateItem($input: CreateItemInput!) {
  createItem(input: $input) {
    item { id title priceWithTax owner { username } }
    userErrors { code }
  }
}
"""


@pytest.fixture
def orm_loads() -> Iterator[list[Any]]:
    """Every User and Item the ORM builds from a row while the test runs."""
    loaded: list[Any] = []

    def record(target: Any, _context: Any) -> None:
        loaded.append(target)

    for model in (User, Item):
        event.listen(model, "load", record)
    yield loaded
    for model in (User, Item):
        event.remove(model, "load", record)


def test_a_record_has_the_models_columns_and_properties() -> None:
    assert UserRecord.fields == (
        "id",
        "username",
        "email",
        "password_hash",
        "role",
        "is_active",
        "token_version",
        "created_at",
        "updated_at",
    )
    admin = UserRecord._make([1, "a", "a@example.com", "-", Role.ADMIN, True, 0, None, None])  # type: ignore[attr-defined]
    assert admin.is_admin and admin.username == "a"
    item = ItemRecord._make([1, 1, "Lamp", None, Decimal("2.50"), Decimal("0.25"), None, None])  # type: ignore[attr-defined]
    assert item.price_with_tax == Decimal("2.75")
    assert instance_of(item, Item) and not instance_of(item, User)
    assert instance_of(Item(), Item) and not instance_of(admin, Item)


def test_of_model_lets_a_type_take_its_models_instances_and_records() -> None:
    item = ItemRecord._make([1, 1, "Lamp", None, Decimal(1), None, None, None])  # type: ignore[attr-defined]
    user = UserRecord._make([1, "a", "a@example.com", "-", Role.USER, True, 0, None, None])  # type: ignore[attr-defined]
    assert ItemType.is_type_of(item, None) and ItemType.is_type_of(Item(), None)
    assert not ItemType.is_type_of(user, None) and not ItemType.is_type_of(User(), None)
    assert UserType.is_type_of(user, None) and not UserType.is_type_of(item, None)


async def test_reads_build_no_orm_instances(
    user_client: GraphQLClient, bob: SignedIn, orm_loads: list[Any]
) -> None:
    item = await user_client.mutate(CREATE_ITEM, {"title": "Lamp", "price": "12.50", "tax": "1"})
    assert item["item"]["priceWithTax"] == "13.50"
    assert item["item"]["owner"] == {"username": "alice"}
    orm_loads.clear()  # the mutation works on ORM instances: only reads are counted
    data = await user_client.data(USERS)
    assert orm_loads == []
    users = {u["username"]: u for u in data["users"]["nodes"]}
    assert users["alice"]["role"] == "USER"
    assert users["alice"]["items"]["nodes"] == [
        {
            "id": item["item"]["id"],
            "title": "Lamp",
            "price": "12.50",
            "priceWithTax": "13.50",
            "owner": {"username": "alice"},
        }
    ]
    assert users["bob"]["items"]["nodes"] == []
    assert data["items"]["nodes"][0]["owner"] == {"username": "alice"}
    assert data["me"] == {"username": "alice", "email": "alice@example.com"}
