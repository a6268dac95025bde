"""Examples drawn from hypothesis strategies up front, for async tests to run through."""

from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy

T = TypeVar("T")


def examples(strategy: SearchStrategy[T], count: int) -> list[T]:
    """`count` examples of `strategy`, the same on every run (derandomized, no database).

    Drawn in a plain function: the tests that use them are async and share fixtures that
    hypothesis cannot reset between examples.
    """
    drawn: list[T] = []

    @settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(example=strategy)
    def draw(example: T) -> None:
        drawn.append(example)

    draw()
    return drawn
