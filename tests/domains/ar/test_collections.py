"""Whom to chase and how old the receivables are: overdue invoices ranked by amount x lateness x unreliability with a
reason each, and open balances in the aging buckets as of a day."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from oodaloo.domains.ar.behaviour import learn_behaviour
from oodaloo.domains.ar.collections import aging, aging_bucket, rank_for_collection
from tests.domains.ar.histories import invoice, paid_late, receivables

AS_OF = date(2025, 12, 1)


@pytest.mark.parametrize(
    ("days_overdue", "bucket"),
    [
        (-10, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
        (400, "90+"),
    ],
)
def test_an_invoice_falls_in_the_bucket_of_its_days_past_due(days_overdue: int, bucket: str) -> None:
    assert aging_bucket(days_overdue) == bucket


def test_aging_lists_every_bucket_with_its_count_and_balance() -> None:
    history = receivables(
        [
            invoice("a", "x", AS_OF - timedelta(days=10), total="100.00"),  # due in 20 days
            invoice("b", "x", AS_OF - timedelta(days=45), total="200.00"),  # 15 days overdue
            invoice("c", "y", AS_OF - timedelta(days=50), total="300.00", paid=[(AS_OF, "120.00")]),  # 20 overdue
            invoice("d", "y", AS_OF - timedelta(days=150), total="400.00"),  # 120 overdue
            invoice("paid", "y", AS_OF - timedelta(days=150), paid=[(AS_OF - timedelta(days=1), "1000.00")]),
        ]
    )

    totals = [(total.bucket, total.count, total.balance) for total in aging(history.open_as_of(AS_OF))]

    assert totals == [
        ("current", 1, Decimal("100.00")),
        ("1-30", 2, Decimal("380.00")),
        ("31-60", 0, Decimal(0)),
        ("61-90", 0, Decimal(0)),
        ("90+", 1, Decimal("400.00")),
    ]


def test_bigger_later_and_less_reliable_invoices_are_chased_first_and_nothing_not_yet_due() -> None:
    # Every open invoice below is 20 days overdue unless said otherwise. "punctual" pays 22 days late like clockwork:
    # its invoice is about to arrive anyway. "chronic" pays 60 days late: nothing will come for weeks unless chased.
    history = receivables(
        paid_late("punctual", [22, 21, 22, 23, 22, 22, 21, 22])
        + paid_late("chronic", [60, 62, 58, 60, 61, 59, 60, 60])
        + paid_late("prompt", [0, 1, 0, 0, 1, 0, 0, 0])
        + [
            invoice("punctual-small", "punctual", AS_OF - timedelta(days=50), total="1000.00"),
            invoice("punctual-big", "punctual", AS_OF - timedelta(days=50), total="5000.00"),
            invoice("punctual-older", "punctual", AS_OF - timedelta(days=70), total="1000.00"),
            invoice("chronic-small", "chronic", AS_OF - timedelta(days=50), total="1000.00"),
            invoice("prompt-small", "prompt", AS_OF - timedelta(days=50), total="1000.00"),
            invoice("not-due", "chronic", AS_OF - timedelta(days=5), total="90000.00"),
        ]
    )
    behaviours = learn_behaviour(history, AS_OF)

    ranked = rank_for_collection(history.open_as_of(AS_OF), behaviours)
    order = [item.invoice.invoice_id for item in ranked]

    assert "not-due" not in order
    assert order.index("punctual-big") < order.index("punctual-small")  # amount
    assert order.index("punctual-older") < order.index("punctual-small")  # lateness
    assert order.index("chronic-small") < order.index("punctual-small")  # unreliability
    scores = [item.score for item in ranked]
    assert scores == sorted(scores, reverse=True)
    by_id = {item.invoice.invoice_id: item for item in ranked}
    assert by_id["chronic-small"].unreliability > 0.8 > 0.5 > by_id["punctual-small"].unreliability
    assert by_id["chronic-small"].reason.startswith("Overdue 20 days, within its usual delay;")
    assert "Client chronic pays a median 60 days late (4 of its last 4 invoices late)" in by_id["chronic-small"].reason
    # A customer who always pays on time, 20 days overdue: the reason says it is out of character.
    assert "later than it usually pays; Client prompt usually pays on time" in by_id["prompt-small"].reason
