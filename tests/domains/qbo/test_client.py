"""QBOClient end to end: SmartSync sends every call over real HTTP to a served sandbox; answers come back typed."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from oodaloo.domains.qbo.client import MAX_PAGE_SIZE, BatchOperation, QBOClient, parse_raw_page, quote
from oodaloo.domains.qbo.errors import (
    QBOAuthError,
    QBODuplicate,
    QBONotFound,
    QBOReconnectRequired,
    QBOServerError,
    QBOStaleObject,
    QBOThrottled,
    QBOTimeout,
    QBOValidationError,
)
from oodaloo.domains.qbo.schemas import (
    AccountBasedExpenseLineDetail,
    Bill,
    BillPayment,
    CheckPayment,
    CompanyInfo,
    ExpenseLine,
    Invoice,
    LinkedTxn,
    PaymentLine,
    Ref,
    SalesItemLineDetail,
    SalesLine,
    Vendor,
    encode_json,
)
from oodaloo.infra.exact_json import loads_exact
from oodaloo.infra.jobs.smart_sync import (
    BreakerSettings,
    Priority,
    QBOUnavailable,
    RateLimits,
    ReconnectRequired,
    RetryPolicy,
    SmartSyncService,
)
from oodaloo.sandbox.config import FaultConfig, SandboxConfig
from tests.sandbox.conftest import RunningSandbox, make_config

# Quick retries so fault tests stay fast; three attempts per call.
FAST_RETRIES = RetryPolicy(
    max_attempts=3,
    base_delay_seconds=0.01,
    max_backoff_seconds=0.05,
    retry_after_cap_seconds=0.1,
    throttled_wait_seconds=0.05,
)
# Our limiter's per-second window shortened, so a test's batches are not spread over seconds.
FAST_WINDOWS = RateLimits(second_seconds=0.05)
# The injected "timeout" fault hangs this long; our requests give up sooner.
SANDBOX_HANG_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 0.3


@pytest.fixture(scope="module")
def sandbox_config() -> SandboxConfig:
    """A realm with more than 1000 invoices, so queries need several pages."""
    return make_config(size=4500, faults=FaultConfig(timeout_seconds=SANDBOX_HANG_SECONDS))


@dataclass(frozen=True)
class Refs:
    vendor: str
    customer: str
    expense_account: str
    bank_account: str
    item: str


@pytest.fixture(scope="module")
def refs(sandbox: RunningSandbox) -> Refs:
    qbo = sandbox.client()

    def first_id(statement: str) -> str:
        answer = qbo.get("/query", params={"query": statement + " MAXRESULTS 1"}).json()["QueryResponse"]
        rows = next(value for value in answer.values() if isinstance(value, list))
        return str(rows[0]["Id"])

    return Refs(
        vendor=first_id("SELECT * FROM Vendor"),
        customer=first_id("SELECT * FROM Customer"),
        expense_account=first_id("SELECT * FROM Account WHERE AccountType = 'Expense'"),
        bank_account=first_id("SELECT * FROM Account WHERE AccountType = 'Bank'"),
        item=first_id("SELECT * FROM Item WHERE Type = 'Service'"),
    )


class SandboxCredentials:
    """Tokens minted by the sandbox; a refresh mints again, fails (revoked connection) or hands back the same one."""

    def __init__(self, sandbox: RunningSandbox, refresh: Literal["mint", "fail", "same"] = "mint") -> None:
        self._sandbox = sandbox
        self._mode = refresh
        self.token = sandbox.token()
        self.refreshes = 0

    async def access_token(self) -> str:
        return self.token

    async def refresh_after_unauthorized(self, rejected: str) -> str:
        self.refreshes += 1
        if self._mode == "fail":
            raise ReconnectRequired("QuickBooks no longer accepts this connection; reconnect to continue")
        if self._mode == "mint":
            async with httpx.AsyncClient(base_url=self._sandbox.base_url) as admin:
                answer = await admin.post("/_sandbox/tokens", json={"realm_id": self._sandbox.realm_id})
                self.token = answer.json()["access_token"]
        return self.token


def make_sync(sandbox: RunningSandbox, **overrides: Any) -> SmartSyncService:
    # SmartSync needs a sessionmaker for its activity log; these tests never record activity.
    sessionmaker = async_sessionmaker(create_async_engine("sqlite+aiosqlite://"))
    options: dict[str, Any] = {
        "retry_policies": {Priority.USER: FAST_RETRIES, Priority.BACKGROUND: FAST_RETRIES},
        "request_timeout": REQUEST_TIMEOUT_SECONDS,
        "limits": FAST_WINDOWS,
        **overrides,
    }
    return SmartSyncService.create(api_base_url=sandbox.base_url, sessionmaker=sessionmaker, **options)


@pytest.fixture
async def sync(sandbox: RunningSandbox) -> AsyncIterator[SmartSyncService]:
    service = make_sync(sandbox)
    yield service
    await service.aclose()


@pytest.fixture
def client(sandbox: RunningSandbox, sync: SmartSyncService) -> QBOClient:
    return QBOClient(sync, SandboxCredentials(sandbox), sandbox.realm_id)


def admin(sandbox: RunningSandbox, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = sandbox.admin().post(path, json=body)
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def inject(sandbox: RunningSandbox, kind: str, count: int = 1) -> None:
    admin(sandbox, "/_sandbox/faults/inject", {"kind": kind, "count": count})


def requests_seen(sandbox: RunningSandbox) -> int:
    stats = sandbox.admin().get("/_sandbox/stats", params={"realm_id": sandbox.realm_id}).json()
    return int(stats["requests_total"])


def vendor_reads(sandbox: RunningSandbox) -> dict[str, int]:
    """Requests to the vendor endpoint by status, as the sandbox counted them."""
    stats = sandbox.admin().get("/_sandbox/stats", params={"realm_id": sandbox.realm_id}).json()
    counts: dict[str, int] = stats["requests"].get("vendor", {})
    return counts


def wait_for_vendor_reads(sandbox: RunningSandbox, status: str, at_least: int) -> dict[str, int]:
    """The counts once ``status`` reaches ``at_least`` (the sandbox counts a request just after answering it)."""
    deadline = time.monotonic() + 5
    counts = vendor_reads(sandbox)
    while counts.get(status, 0) < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
        counts = vendor_reads(sandbox)
    return counts


def new_bill(refs: Refs, *amounts: Decimal, note: str | None = None) -> Bill:
    detail = AccountBasedExpenseLineDetail(account_ref=Ref(value=refs.expense_account))
    lines = [
        ExpenseLine(
            amount=amount, detail_type="AccountBasedExpenseLineDetail", account_based_expense_line_detail=detail
        )
        for amount in amounts
    ]
    return Bill(vendor_ref=Ref(value=refs.vendor), line=lines, private_note=note)


def new_invoice(refs: Refs, amount: Decimal) -> Invoice:
    line = SalesLine(
        amount=amount,
        detail_type="SalesItemLineDetail",
        sales_item_line_detail=SalesItemLineDetail(item_ref=Ref(value=refs.item)),
    )
    return Invoice(customer_ref=Ref(value=refs.customer), line=[line])


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:10]}"


# -- queries -----------------------------------------------------------------------------------------------------------


async def test_paging_collects_exactly_count_rows(client: QBOClient) -> None:
    total = await client.count(Invoice)
    assert total > MAX_PAGE_SIZE  # a full page and a short last one
    invoices = await client.query_all(Invoice)
    assert len(invoices) == total
    assert len({invoice.id for invoice in invoices}) == total
    assert all(isinstance(invoice.total_amt, Decimal) for invoice in invoices)


async def test_paging_with_a_filter_and_another_order(client: QBOClient) -> None:
    where = "Balance > '0'"
    open_invoices = await client.query_all(Invoice, where=where, order_by="TxnDate DESC")
    assert len(open_invoices) == await client.count(Invoice, where)
    assert all(invoice.balance and invoice.balance > 0 for invoice in open_invoices)
    dates = [invoice.txn_date for invoice in open_invoices]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]


async def test_long_statement_is_sent_as_a_post(client: QBOClient) -> None:
    wanted = [str(number) for number in range(1, 401)]
    where = f"Id IN ({', '.join(quote(value) for value in wanted)})"
    assert len(where) > 2000
    invoices = await client.query_all(Invoice, where=where)
    assert sorted(int(invoice.id or 0) for invoice in invoices) == list(range(1, 401))


async def test_quote_escapes_quotes_and_backslashes(client: QBOClient) -> None:
    name = unique("O'Brien \\ Sons")
    created = await client.create(Vendor(display_name=name))
    found = await client.query_all(Vendor, where=f"DisplayName = {quote(name)}")
    assert [vendor.id for vendor in found] == [created.id]
    assert quote("it's \\ ok") == "'it\\'s \\\\ ok'"


# -- writes ------------------------------------------------------------------------------------------------------------


async def test_create_sparse_update_delete_round_trip(client: QBOClient, refs: Refs) -> None:
    bill = await client.create(new_bill(refs, Decimal("410.00"), note="first"), requestid=uuid.uuid4().hex)
    assert bill.id
    assert bill.sync_token == "0"
    assert bill.vendor_ref is not None
    assert bill.vendor_ref.value == refs.vendor

    update_id = uuid.uuid4().hex
    updated = await client.sparse_update(Bill, bill.id, "0", {"private_note": "second"}, requestid=update_id)
    assert (updated.private_note, updated.sync_token) == ("second", "1")
    assert updated.total_amt == Decimal("410.00")  # a sparse update leaves the rest alone
    replayed = await client.sparse_update(Bill, bill.id, "0", {"private_note": "second"}, requestid=update_id)
    assert replayed.sync_token == "1"  # the same requestid is answered, not applied again

    deleted = await client.delete(Bill, bill.id, "1")
    assert deleted.is_deleted
    with pytest.raises(QBONotFound):
        await client.read(Bill, bill.id)


async def test_money_stays_exact(client: QBOClient, refs: Refs) -> None:
    assert encode_json({"Amount": Decimal("0.1") + Decimal("0.2")}) == b'{"Amount":0.3}'
    bill = await client.create(new_bill(refs, Decimal("1234.57"), Decimal("0.10"), Decimal("0.20")))
    assert bill.total_amt == Decimal("1234.87")
    assert [line.amount for line in bill.line] == [Decimal("1234.57"), Decimal("0.10"), Decimal("0.20")]
    read_back = await client.read(Bill, bill.id or "")
    assert read_back.balance == Decimal("1234.87")


async def test_unknown_fields_survive_read_and_sparse_update(client: QBOClient) -> None:
    vendor = await client.read(Vendor, "1")
    kept = (vendor.model_extra or {}).get("PrintOnCheckName")
    assert kept  # a field the schema does not declare
    assert vendor.to_wire()["PrintOnCheckName"] == kept
    updated = await client.sparse_update(Vendor, "1", vendor.sync_token or "", {"AcctNum": unique("A")[:20]})
    assert (updated.model_extra or {}).get("PrintOnCheckName") == kept
    assert updated.meta_data is not None
    assert updated.meta_data.last_updated_time is not None
    assert updated.meta_data.last_updated_time.tzinfo is not None


async def test_void_invoice_and_bill_payment(client: QBOClient, refs: Refs) -> None:
    invoice = await client.create(new_invoice(refs, Decimal("900.00")))
    voided = await client.void(Invoice, invoice.id or "", invoice.sync_token or "")
    assert voided.balance == 0
    assert voided.id == invoice.id

    bill = await client.create(new_bill(refs, Decimal("250.00")))
    payment = await client.create(
        BillPayment(
            vendor_ref=Ref(value=refs.vendor),
            pay_type="Check",
            check_payment=CheckPayment(bank_account_ref=Ref(value=refs.bank_account)),
            total_amt=Decimal("250.00"),
            line=[PaymentLine(amount=Decimal("250.00"), linked_txn=[LinkedTxn(txn_id=bill.id or "", txn_type="Bill")])],
        )
    )
    assert (await client.read(Bill, bill.id or "")).balance == 0
    voided_payment = await client.void(BillPayment, payment.id or "", payment.sync_token or "")
    assert voided_payment.total_amt == 0
    assert (await client.read(Bill, bill.id or "")).balance == Decimal("250.00")
    with pytest.raises(ValueError, match="delete it instead"):
        await client.void(Bill, bill.id or "", "0")


async def test_send_invoice(client: QBOClient, refs: Refs) -> None:
    invoice = await client.create(new_invoice(refs, Decimal("75.25")))
    sent = await client.send_invoice(invoice.id or "", send_to="ap@example.com", requestid=uuid.uuid4().hex)
    assert sent.email_status == "EmailSent"
    assert sent.bill_email is not None
    assert sent.bill_email.address == "ap@example.com"
    assert sent.delivery_info is not None
    assert sent.delivery_info.delivery_type == "Email"


# -- CDC and batch -----------------------------------------------------------------------------------------------------


async def test_cdc_returns_created_vendor_and_deleted_bill_stub(client: QBOClient, refs: Refs) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    vendor = await client.create(Vendor(display_name=unique("CDC vendor")))
    bill = await client.create(new_bill(refs, Decimal("12.00")))
    await client.delete(Bill, bill.id or "", bill.sync_token or "")
    changes = await client.cdc([Vendor, Bill], since)
    assert vendor.id in {changed.id for changed in changes[Vendor]}
    stubs = [changed for changed in changes[Bill] if changed.id == bill.id]
    assert len(stubs) == 1
    assert isinstance(stubs[0], Bill)
    assert stubs[0].is_deleted


async def test_cdc_refuses_windows_older_than_30_days(client: QBOClient, sandbox: RunningSandbox) -> None:
    before = requests_seen(sandbox)
    with pytest.raises(ValueError, match="30 days"):
        await client.cdc([Bill], datetime.now(UTC) - timedelta(days=31))
    assert requests_seen(sandbox) == before


async def test_batch_chunks_and_returns_typed_per_item_results(client: QBOClient, refs: Refs) -> None:
    vendor = await client.read(Vendor, refs.vendor)
    names = [unique("Batch vendor") for _ in range(30)]
    items = [BatchOperation.create(Vendor(display_name=name)) for name in names]
    items += [
        BatchOperation.create(Bill(line=[])),  # no VendorRef
        BatchOperation.update(Vendor, refs.vendor, str(int(vendor.sync_token or "0") + 9), {"AcctNum": "9"}),
        BatchOperation.select(f"SELECT * FROM Vendor WHERE DisplayName = {quote(names[0])}"),
    ]
    requestid = uuid.uuid4().hex
    results = await client.batch(items, requestid=requestid)  # 33 items: several batches

    assert len(results) == len(items)
    created = [result.entity for result in results[:30]]
    assert [getattr(entity, "display_name", None) for entity in created] == names
    assert isinstance(results[30].error, QBOValidationError)
    assert results[30].error.element == "VendorRef"
    assert isinstance(results[31].error, QBOStaleObject)
    # The query went in a later batch than the first create, so it finds that vendor.
    assert results[32].rows is not None
    assert [row.id for row in results[32].rows] == [getattr(created[0], "id", None)]

    again = await client.batch(items, requestid=requestid)
    assert [getattr(result.entity, "id", None) for result in again[:30]] == [entity.id for entity in created if entity]
    assert len(await client.query_all(Vendor, where=f"DisplayName = {quote(names[-1])}")) == 1


# -- reports and company -----------------------------------------------------------------------------------------------


async def test_aged_payables_parse_to_exact_buckets(client: QBOClient) -> None:
    report = await client.aged_payables()
    assert report.report_name == "AgedPayables"
    assert report.bucket_titles[0] == "Current"
    assert report.lines
    assert report.total is not None
    assert report.report_date is not None
    for line in report.lines:
        assert line.total == sum(line.buckets.values(), Decimal(0))
    assert report.total.total == sum((line.total for line in report.lines), Decimal(0))
    where = f"Balance > '0' AND TxnDate <= '{report.report_date.isoformat()}'"
    open_bills = await client.query_all(Bill, where=where)
    # Unused vendor credits age as negative amounts: what is owed is the open bills net of them.
    open_credits = (await client.query_raw("VendorCredit", where=where)).rows
    owed = sum((bill.balance or Decimal(0) for bill in open_bills), Decimal(0)) - sum(
        (Decimal(str(credit["Balance"])) for credit in open_credits), Decimal(0)
    )
    assert open_credits, "the demo company has unused vendor credits"
    assert report.total.total == owed


async def test_aged_receivables_name_customers(client: QBOClient) -> None:
    report = await client.aged_receivables()
    assert report.report_name == "AgedReceivables"
    assert report.lines
    first = report.lines[0]
    assert first.party_id is not None
    assert first.party_name
    assert all(isinstance(amount, Decimal) for amount in first.buckets.values())


async def test_company_info(client: QBOClient) -> None:
    info = await client.company_info()
    assert isinstance(info, CompanyInfo)
    assert info.company_name
    assert info.company_start_date is not None
    assert (await client.preferences()).home_currency == "USD"


# -- faults become typed errors ----------------------------------------------------------------------------------------


async def test_validation_faults(client: QBOClient, refs: Refs) -> None:
    with pytest.raises(QBONotFound) as missing:
        await client.read(Bill, "99999999")
    assert missing.value.code == "610"
    assert missing.value.intuit_tid
    bill = await client.create(new_bill(refs, Decimal("5.00")))
    with pytest.raises(QBOStaleObject):
        await client.sparse_update(Bill, bill.id or "", "7", {"PrivateNote": "late"})
    with pytest.raises(QBOValidationError) as invalid:
        await client.create(Bill(line=new_bill(refs, Decimal("1.00")).line))
    assert (invalid.value.code, invalid.value.element) == ("2020", "VendorRef")
    vendor = await client.read(Vendor, refs.vendor)
    with pytest.raises(QBODuplicate) as duplicate:
        await client.create(Vendor(display_name=vendor.display_name))
    assert duplicate.value.code == "6240"
    with pytest.raises(QBOValidationError) as bad_query:
        await client.count(Bill, "Balance >")
    assert bad_query.value.code == "4000"
    with pytest.raises(ValueError, match="requestid"):
        await client.create(Vendor(display_name="x"), requestid="r" * 51)


async def test_expired_token_is_refreshed_once(sandbox: RunningSandbox, sync: SmartSyncService) -> None:
    credentials = SandboxCredentials(sandbox)
    client = QBOClient(sync, credentials, sandbox.realm_id)
    admin(sandbox, "/_sandbox/tokens/expire", {})
    assert (await client.read(Vendor, "1")).id == "1"
    assert credentials.refreshes == 1


async def test_refresh_rejected_needs_reconnect(sandbox: RunningSandbox, sync: SmartSyncService) -> None:
    credentials = SandboxCredentials(sandbox, refresh="fail")
    admin(sandbox, "/_sandbox/tokens/expire", {})
    with pytest.raises(QBOReconnectRequired, match="reconnect"):
        await QBOClient(sync, credentials, sandbox.realm_id).read(Vendor, "1")


async def test_second_401_is_an_auth_error(sandbox: RunningSandbox, sync: SmartSyncService) -> None:
    credentials = SandboxCredentials(sandbox, refresh="same")
    admin(sandbox, "/_sandbox/tokens/expire", {})
    with pytest.raises(QBOAuthError) as refused:
        await QBOClient(sync, credentials, sandbox.realm_id).read(Vendor, "1")
    assert (refused.value.status, refused.value.code) == (401, "3200")
    assert credentials.token not in str(refused.value)


async def test_throttled_by_qbo(sandbox: RunningSandbox, client: QBOClient) -> None:
    admin(sandbox, "/_sandbox/limits", {"enabled": True, "per_second": 1, "reset": True})
    try:
        await client.read(Vendor, "1")  # the realm's one request this second
        with pytest.raises(QBOThrottled) as throttled:
            await client.read(Vendor, "1")
    finally:
        admin(sandbox, "/_sandbox/limits", {"enabled": False, "per_second": 10, "reset": True})
    assert (throttled.value.status, throttled.value.code) == (429, "3001")
    assert throttled.value.is_transient


@pytest.mark.parametrize(("kind", "code"), [("500", "10000"), ("503", "10001"), ("502", "")])
async def test_server_failures_after_retries(sandbox: RunningSandbox, client: QBOClient, kind: str, code: str) -> None:
    inject(sandbox, kind, count=FAST_RETRIES.max_attempts)
    with pytest.raises(QBOServerError) as failed:
        await client.read(Vendor, "1")
    assert (failed.value.status, failed.value.code) == (int(kind), code)


async def test_one_server_failure_is_retried_away(sandbox: RunningSandbox, client: QBOClient) -> None:
    inject(sandbox, "503")
    assert (await client.read(Vendor, "1")).id == "1"


async def test_timeout(sandbox: RunningSandbox, client: QBOClient) -> None:
    inject(sandbox, "timeout", count=FAST_RETRIES.max_attempts)
    with pytest.raises(QBOTimeout) as late:
        await client.read(Vendor, "1")
    assert late.value.is_transient


async def test_deadline_already_passed(sandbox: RunningSandbox, sync: SmartSyncService) -> None:
    client = QBOClient(sync, SandboxCredentials(sandbox), sandbox.realm_id, deadline=time.monotonic() - 1)
    with pytest.raises(QBOTimeout) as late:
        await client.read(Vendor, "1")
    assert late.value.may_have_reached_qbo is False


async def test_open_circuit_fails_fast_without_calling_qbo(sandbox: RunningSandbox) -> None:
    single = RetryPolicy(max_attempts=1)
    sync = make_sync(
        sandbox,
        retry_policies={Priority.USER: single, Priority.BACKGROUND: single},
        breaker_settings=BreakerSettings(failure_threshold=2, cooldown_seconds=60),
    )
    try:
        client = QBOClient(sync, SandboxCredentials(sandbox), sandbox.realm_id)
        start = vendor_reads(sandbox)
        inject(sandbox, "500", count=2)
        for _ in range(2):
            with pytest.raises(QBOServerError):
                await client.read(Vendor, "1")
        with pytest.raises(QBOUnavailable) as paused:
            await client.read(Vendor, "1")
        # SmartSync's own error, as it raised it, saying when the circuit lets calls through again.
        assert type(paused.value) is QBOUnavailable
        assert paused.value.retry_after_seconds == 60
        # A direct read as a marker: once the sandbox has counted it, it has counted everything sent before it.
        sandbox.client().get("/vendor/1").raise_for_status()
        seen = wait_for_vendor_reads(sandbox, "200", start.get("200", 0) + 1)
        assert seen.get("500", 0) - start.get("500", 0) == 2
        assert seen.get("200", 0) - start.get("200", 0) == 1
    finally:
        await sync.aclose()


async def test_a_raw_page_keeps_each_object_s_own_bytes_beside_it(client: QBOClient) -> None:
    page = await client.query_raw("Bill", max_results=5)
    assert len(page.rows) == 5
    assert [loads_exact(text) for text in page.texts] == page.rows
    assert all(text.startswith(b'{"') and text.endswith(b"}") for text in page.texts)
    assert page.time is not None
    assert page.time.tzinfo is not None


@pytest.mark.parametrize(
    ("answer", "rows"),
    [
        (
            b'{"QueryResponse":{"Bill":[{"Id":"1","TotalAmt":10.50},7,{"Id":"2"}]},"time":"2026-01-05T09:00:00-08:00"}',
            2,
        ),
        (b'{"QueryResponse":{},"time":"2026-01-05T09:00:00-08:00"}', 0),
        (b'{"QueryResponse":{"Bill":{"Id":"1"}}}', 0),
        (b"[1, 2]", 0),
    ],
)
def test_a_raw_page_reads_only_the_objects_listed_under_the_entity(answer: bytes, rows: int) -> None:
    page = parse_raw_page(answer, "Bill")
    assert len(page.rows) == len(page.texts) == rows
    if rows:
        assert page.rows[0] == {"Id": "1", "TotalAmt": Decimal("10.50")}
        assert page.texts[0] == b'{"Id":"1","TotalAmt":10.50}'
        assert page.time == datetime(2026, 1, 5, 17, tzinfo=UTC)


def test_a_raw_page_that_is_not_json_or_holds_no_query_response_object_is_refused() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        parse_raw_page(b'{"QueryResponse":', "Bill")
    with pytest.raises(QBOServerError, match="QueryResponse"):
        parse_raw_page(b'{"QueryResponse":[]}', "Bill")
