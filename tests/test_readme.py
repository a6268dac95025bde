"""The README's configuration reference names every setting, with its real default."""

import re
from enum import Enum
from pathlib import Path

from pydantic import AliasChoices

from graphql_api.core.settings import Settings

README = Path(__file__).parents[1] / "README.md"
TICKED = re.compile(r"`([^`]*)`")


def configuration_rows() -> list[tuple[list[str], list[str]]]:
    """Each row of the Configuration table: its setting names, its ticked defaults."""
    text = README.read_text()
    start = text.index("\n## Configuration\n")
    section = text[start : text.index("\n## ", start + 1)]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not line.startswith("| `") or len(cells) != 3:
            continue
        rows.append((TICKED.findall(cells[0]), TICKED.findall(cells[1])))
    return rows


def accepted_names(name: str) -> set[str]:
    """The environment variables that set the field `name`."""
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return {str(choice) for choice in alias.choices}
    return {f"GRAPHQL_API_{name.upper()}"}


def documented(default: object) -> str | None:
    """A default as the README writes it in ticks; an empty list is the word "empty"."""
    if default == []:
        return None
    if isinstance(default, Enum):
        return str(default.value)
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def test_every_setting_is_in_the_configuration_table_with_its_default() -> None:
    rows = configuration_rows()
    defaults_by_name: dict[str, str | None] = {}
    for names, defaults in rows:
        assert len(defaults) in (0, 1, len(names)), (names, defaults)
        for i, name in enumerate(names):
            defaults_by_name[name] = defaults[i if len(defaults) > 1 else 0] if defaults else None

    for field, info in Settings.model_fields.items():
        names = accepted_names(field) & defaults_by_name.keys()
        assert names, f"{sorted(accepted_names(field))} is not in the README's Configuration"
        (name,) = names
        if info.default is not None:  # unset: the README says in words what happens then
            assert defaults_by_name[name] == documented(info.default), name


def test_the_configuration_table_names_only_real_settings() -> None:
    real = set().union(*(accepted_names(field) for field in Settings.model_fields))
    listed = {name for names, _ in configuration_rows() for name in names}
    assert listed - real == set()
