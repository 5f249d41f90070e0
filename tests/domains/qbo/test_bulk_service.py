"""QBOBulkScheduledService over real HTTP against the sandbox: it syncs every connected business (and only those),
one business's failure is recorded without stopping the others, the first sync of a business is full and the next
incremental, an interrupted full sync is finished by a full one, and the concurrency bound holds."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from oodaloo.domains.qbo.mirror_models import SyncKind, SyncOutcome
from oodaloo.domains.qbo.service import BusinessNotSyncable, BusinessSyncResult, QBOBulkScheduledService
from oodaloo.settings import Settings
from tests.domains.qbo.bulk_support import Fleet, fleet


class Interrupted(Exception):
    """Raised from the page hook: a full sync stops as a crash would, after a page was stored."""


@pytest.fixture
def businesses(settings: Settings, tmp_path: Path, worker_id: str) -> Iterator[Fleet]:
    with fleet(settings, tmp_path, f"oodaloo_bulk_{worker_id}") as found:
        yield found


def by_business(results: list[BusinessSyncResult]) -> dict[uuid.UUID, BusinessSyncResult]:
    return {result.business_id: result for result in results}


def test_syncs_every_connected_business_and_one_failure_stops_none_of_the_others(businesses: Fleet) -> None:
    healthy = [businesses.add_business(), businesses.add_business()]
    failing = businesses.add_business()
    not_connected = businesses.add_business(connected=False)
    businesses.revoke_tokens(failing)
    heard: list[uuid.UUID] = []

    results = businesses.with_bulk(
        lambda bulk: bulk.sync_all(on_result=lambda result: heard.append(result.business_id))
    )

    found = by_business(results)
    assert set(found) == {*healthy, failing}  # the business never connected is not synced
    assert sorted(heard) == sorted(found)  # the progress hook heard each business once
    for business_id in healthy:
        assert found[business_id].outcome is SyncOutcome.SUCCEEDED
        assert found[business_id].kind is SyncKind.FULL  # never synced before
        [run] = businesses.runs(business_id)
        assert run.outcome is SyncOutcome.SUCCEEDED
        businesses.harness(business_id).assert_mirror_equals_sandbox()
    assert found[failing].outcome is SyncOutcome.FAILED
    error = found[failing].error
    assert error is not None
    assert "reconnect" in error
    [failed_run] = businesses.runs(failing)
    assert failed_run.outcome is SyncOutcome.FAILED
    assert failed_run.error is not None
    assert businesses.runs(not_connected) == []


def test_a_synced_business_gets_an_incremental_sync_next_and_a_disconnected_one_none(businesses: Fleet) -> None:
    synced, failing = businesses.add_business(), businesses.add_business()
    businesses.revoke_tokens(failing)
    businesses.with_bulk(lambda bulk: bulk.sync_all())
    realm = businesses.realms[synced]
    bill = next(iter(realm.objects("Bill").values()))
    realm.post("/bill", {"Id": bill["Id"], "SyncToken": bill["SyncToken"], "sparse": True, "PrivateNote": "changed"})
    realm.reset_calls()

    results = businesses.with_bulk(lambda bulk: bulk.sync_all())

    # The failed business now needs reconnecting: it is no longer connected, so not synced.
    [result] = results
    assert result.business_id == synced
    assert result.kind is SyncKind.CDC
    assert result.outcome is SyncOutcome.SUCCEEDED
    assert realm.calls()["cdc"] == 1
    assert businesses.harness(synced).rows("Bill")[bill["Id"]].raw["PrivateNote"] == "changed"


def test_an_interrupted_full_sync_is_finished_by_a_full_sync(businesses: Fleet) -> None:
    business_id = businesses.add_business()
    businesses.with_bulk(lambda bulk: bulk.sync_all())  # synced once: it has a cursor

    async def crash_after_a_page(entity: str, rows: int) -> None:
        raise Interrupted

    # A second full sync (e.g. after a reconnect) dies after its first page: its progress is unfinished.
    with pytest.raises(Interrupted):
        businesses.with_mirror(lambda mirror, _: mirror.full(business_id), after_page=crash_after_a_page, page_size=20)
    assert businesses.with_bulk(lambda bulk: bulk.kind_for(business_id)) is SyncKind.FULL

    [finished] = businesses.with_bulk(lambda bulk: bulk.sync_all())

    assert finished.kind is SyncKind.FULL
    assert finished.outcome is SyncOutcome.SUCCEEDED
    assert businesses.with_bulk(lambda bulk: bulk.kind_for(business_id)) is SyncKind.CDC
    businesses.harness(business_id).assert_mirror_equals_sandbox()


def test_at_most_the_concurrency_bound_of_businesses_sync_at_once(businesses: Fleet) -> None:
    business_ids = [businesses.add_business() for _ in range(3)]

    businesses.with_bulk(lambda bulk: bulk.sync_all(), concurrency=1)

    runs = sorted(
        (run for business_id in business_ids for run in businesses.runs(business_id)), key=lambda r: r.started_at
    )
    assert len(runs) == 3
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished_at is not None
        assert earlier.finished_at <= later.started_at  # one at a time: no two runs overlap


def test_refuses_an_unknown_or_unconnected_business_by_name(businesses: Fleet) -> None:
    unconnected = businesses.add_business(connected=False)
    unknown = uuid.uuid4()

    async def refusal(bulk: QBOBulkScheduledService, business_id: uuid.UUID) -> str:
        with pytest.raises(BusinessNotSyncable) as refused:
            await bulk.check_syncable(business_id)
        return str(refused.value)

    assert str(unknown) in businesses.with_bulk(lambda bulk: refusal(bulk, unknown))
    assert "not connected" in businesses.with_bulk(lambda bulk: refusal(bulk, unconnected))
