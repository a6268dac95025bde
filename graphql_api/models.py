"""Every feature's models, imported so that the metadata knows all tables."""


def load_all_models() -> None:
    import graphql_api.chat.models
    import graphql_api.items.models
    import graphql_api.links.models
    import graphql_api.users.models  # noqa: F401
