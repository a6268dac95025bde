"""Examples drawn from hypothesis strategies up front, for async tests to run through."""

from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy

T = TypeVar("T")


def examples(strategy: SearchStrategy[T], count: int, *, derandomize: bool = True) -> list[T]:
    """`count` examples of `strategy`, the same on every run (derandomized, no database;
    a fuzzing run passes `derandomize=False` for new ones each time).

    Drawn in a plain function: the tests that use them are async and share fixtures that
    hypothesis cannot reset between examples.
    """
    drawn: list[T] = []

    @settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=derandomize,
        database=None,
    )
    @given(example=strategy)
    def draw(example: T) -> None:
        drawn.append(example)

    draw()
    return drawn
