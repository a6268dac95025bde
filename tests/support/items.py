"""Operations and helpers of the items tests."""

from tests.support.users import SignedIn

CREATE_ITEM = """
mutation CreateItem($input: CreateItemInput!) {
  createItem(input: $input) {
    item { id title description price tax priceWithTax tags owner { username } createdAt }
    userErrors { field code message }
  }
}
"""


UPDATE_ITEM = """
mutation UpdateItem($input: UpdateItemInput!) {
  updateItem(input: $input) {
    item { id title description price tax priceWithTax tags updatedAt }
    userErrors { field code message }
  }
}
"""


ITEM = "query($id: ID!) { item(id: $id) { title description price tax tags } }"


async def make_item(owner: SignedIn) -> dict:  # type: ignore[type-arg]
    payload = await owner.client.mutate(
        CREATE_ITEM,
        {"title": "Lamp", "description": "Old", "price": "10", "tax": "1", "tags": ["a"]},
    )
    return payload["item"]  # type: ignore[no-any-return]


DELETE_ITEM = """
mutation DeleteItem($input: DeleteItemInput!) {
  deleteItem(input: $input) { deletedId userErrors { field code message } }
}
"""
