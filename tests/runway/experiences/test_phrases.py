"""The console's and digest's words for counts: one of a thing, several of it, in English's regular plurals."""

from __future__ import annotations

import pytest

from oodaloo.runway.experiences.phrases import plural


@pytest.mark.parametrize(
    ("number", "unit", "said"),
    [
        (1, "bill", "1 bill"),
        (0, "bill", "0 bills"),
        (3, "late invoice", "3 late invoices"),
        (1, "client business", "1 client business"),
        (2, "client business", "2 client businesses"),
        (4, "tax", "4 taxes"),
        (2, "batch", "2 batches"),
    ],
)
def test_a_count_reads_as_english(number: int, unit: str, said: str) -> None:
    assert plural(number, unit) == said
