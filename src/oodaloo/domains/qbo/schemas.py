"""Typed QBO entities, response envelopes and the aging report, plus the exact JSON encoding used for writes.

Every model keeps the fields it does not declare (``extra="allow"``) so an object read from QBO and written back
loses nothing. Money is ``Decimal`` end to end: responses are parsed with ``parse_float=Decimal`` and writes are
encoded by :func:`encode_json`, which prints each Decimal's own digits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

import orjson
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_pascal

DELETED_STATUS = "Deleted"


def _blank_to_none(value: Any) -> Any:
    # QBO and the clients that talk to it write "" for "not set" (API_NOTES §13).
    return None if value == "" else value


Money = Annotated[Decimal | None, BeforeValidator(_blank_to_none)]
OptionalDate = Annotated[date | None, BeforeValidator(_blank_to_none)]
OptionalTimestamp = Annotated[AwareDatetime | None, BeforeValidator(_blank_to_none)]


class QBOModel(BaseModel):
    """Base of every QBO shape: PascalCase names on the wire, snake_case in Python, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        extra="allow",
        coerce_numbers_to_str=True,  # Ids and SyncTokens are strings, though some writers send numbers
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as QBO expects it in a request body: wire names, unset fields left out, Decimals kept."""
        return self.model_dump(by_alias=True, exclude_none=True)


class Ref(QBOModel):
    model_config = ConfigDict(alias_generator=None)

    value: str
    name: str | None = None
    type: str | None = None


class MemoRef(QBOModel):
    model_config = ConfigDict(alias_generator=None)

    value: str | None = None


class LinkedTxn(QBOModel):
    txn_id: str
    txn_type: str | None = None
    txn_line_id: str | None = None


class MetaData(QBOModel):
    create_time: OptionalTimestamp = None
    last_updated_time: OptionalTimestamp = None


class EmailAddress(QBOModel):
    address: str | None = None


class TelephoneNumber(QBOModel):
    free_form_number: str | None = None


class WebAddress(QBOModel):
    uri: str | None = Field(default=None, alias="URI")


class PhysicalAddress(QBOModel):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    country_sub_division_code: str | None = None
    postal_code: str | None = None
    country: str | None = None


class NameValue(QBOModel):
    name: str
    value: str | None = None


# -- entities ------------------------------------------------------------------------------------------------------


class QBOEntity(QBOModel):
    """Fields every QBO entity carries. ``entity_name`` is the wire name (``Bill``); the URL segment is lower case.

    A deleted object (a CDC stub or the answer to a delete) is an instance with ``status == "Deleted"`` and little
    else set.
    """

    entity_name: ClassVar[str] = ""

    id: str | None = None
    sync_token: str | None = None
    domain: str | None = Field(default=None, alias="domain")
    sparse: bool | None = Field(default=None, alias="sparse")
    status: str | None = Field(default=None, alias="status")
    meta_data: MetaData | None = None

    @classmethod
    def url_segment(cls) -> str:
        return cls.entity_name.lower()

    @property
    def is_deleted(self) -> bool:
        return self.status == DELETED_STATUS


class Account(QBOEntity):
    entity_name: ClassVar[str] = "Account"

    name: str | None = None
    account_type: str | None = None
    account_sub_type: str | None = None
    classification: str | None = None
    current_balance: Money = None
    current_balance_with_sub_accounts: Money = None
    active: bool | None = None
    sub_account: bool | None = None
    parent_ref: Ref | None = None
    fully_qualified_name: str | None = None
    acct_num: str | None = None
    description: str | None = None
    currency_ref: Ref | None = None


class Vendor(QBOEntity):
    entity_name: ClassVar[str] = "Vendor"

    display_name: str | None = None
    company_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    primary_email_addr: EmailAddress | None = None
    primary_phone: TelephoneNumber | None = None
    bill_addr: PhysicalAddress | None = None
    term_ref: Ref | None = None
    acct_num: str | None = None
    vendor1099: bool | None = None
    currency_ref: Ref | None = None
    ap_account_ref: Ref | None = Field(default=None, alias="APAccountRef")
    balance: Money = None
    active: bool | None = None


class Customer(QBOEntity):
    entity_name: ClassVar[str] = "Customer"

    display_name: str | None = None
    company_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    fully_qualified_name: str | None = None
    primary_email_addr: EmailAddress | None = None
    primary_phone: TelephoneNumber | None = None
    bill_addr: PhysicalAddress | None = None
    ship_addr: PhysicalAddress | None = None
    sales_term_ref: Ref | None = None
    payment_method_ref: Ref | None = None
    preferred_delivery_method: str | None = None
    currency_ref: Ref | None = None
    parent_ref: Ref | None = None
    job: bool | None = None
    taxable: bool | None = None
    balance: Money = None
    balance_with_jobs: Money = None
    active: bool | None = None


class Term(QBOEntity):
    entity_name: ClassVar[str] = "Term"

    name: str | None = None
    active: bool | None = None
    type: str | None = None
    due_days: int | None = None
    discount_percent: Money = None
    discount_days: int | None = None
    day_of_month_due: int | None = None
    due_next_month_days: int | None = None
    discount_day_of_month: int | None = None


class Item(QBOEntity):
    entity_name: ClassVar[str] = "Item"

    name: str | None = None
    type: str | None = None
    description: str | None = None
    purchase_desc: str | None = None
    unit_price: Money = None
    purchase_cost: Money = None
    income_account_ref: Ref | None = None
    expense_account_ref: Ref | None = None
    taxable: bool | None = None
    active: bool | None = None
    sku: str | None = None
    fully_qualified_name: str | None = None


# -- transaction lines ------------------------------------------------------------------------------------------------


class AccountBasedExpenseLineDetail(QBOModel):
    account_ref: Ref | None = None
    customer_ref: Ref | None = None
    class_ref: Ref | None = None
    billable_status: str | None = None
    tax_code_ref: Ref | None = None


class ExpenseLine(QBOModel):
    """A Bill or Purchase line (account-based; item-based details are kept as unknown fields)."""

    id: str | None = None
    line_num: int | None = None
    description: str | None = None
    amount: Money = None
    detail_type: str | None = None
    account_based_expense_line_detail: AccountBasedExpenseLineDetail | None = None


class SalesItemLineDetail(QBOModel):
    item_ref: Ref | None = None
    qty: Money = None
    unit_price: Money = None
    tax_code_ref: Ref | None = None
    service_date: OptionalDate = None
    class_ref: Ref | None = None


class SalesLine(QBOModel):
    """An Invoice line: a sales item line, or the subtotal line QBO generates."""

    id: str | None = None
    line_num: int | None = None
    description: str | None = None
    amount: Money = None
    detail_type: str | None = None
    sales_item_line_detail: SalesItemLineDetail | None = None
    sub_total_line_detail: dict[str, Any] | None = None


class PaymentLine(QBOModel):
    """A BillPayment or Payment line: an amount applied to the linked transactions."""

    amount: Money = None
    linked_txn: list[LinkedTxn] = Field(default_factory=list)


class DepositLineDetail(QBOModel):
    account_ref: Ref | None = None
    entity: Ref | None = None
    payment_method_ref: Ref | None = None
    check_num: str | None = None


class DepositLine(QBOModel):
    id: str | None = None
    line_num: int | None = None
    amount: Money = None
    detail_type: str | None = None
    deposit_line_detail: DepositLineDetail | None = None
    linked_txn: list[LinkedTxn] = Field(default_factory=list)


class CheckPayment(QBOModel):
    bank_account_ref: Ref | None = None
    print_status: str | None = None


class CreditCardPayment(QBOModel):
    cc_account_ref: Ref | None = Field(default=None, alias="CCAccountRef")


class DeliveryInfo(QBOModel):
    delivery_type: str | None = None
    delivery_time: OptionalTimestamp = None


# -- transactions ---------------------------------------------------------------------------------------------------


class Transaction(QBOEntity):
    """Fields shared by the transaction entities."""

    doc_number: str | None = None
    txn_date: OptionalDate = None
    private_note: str | None = None
    currency_ref: Ref | None = None
    exchange_rate: Money = None
    department_ref: Ref | None = None
    total_amt: Money = None
    linked_txn: list[LinkedTxn] = Field(default_factory=list)


class Bill(Transaction):
    entity_name: ClassVar[str] = "Bill"

    vendor_ref: Ref | None = None
    ap_account_ref: Ref | None = Field(default=None, alias="APAccountRef")
    sales_term_ref: Ref | None = None
    due_date: OptionalDate = None
    balance: Money = None
    home_balance: Money = None
    line: list[ExpenseLine] = Field(default_factory=list)


class BillPayment(Transaction):
    entity_name: ClassVar[str] = "BillPayment"

    vendor_ref: Ref | None = None
    pay_type: str | None = None
    check_payment: CheckPayment | None = None
    credit_card_payment: CreditCardPayment | None = None
    ap_account_ref: Ref | None = Field(default=None, alias="APAccountRef")
    line: list[PaymentLine] = Field(default_factory=list)


class Invoice(Transaction):
    entity_name: ClassVar[str] = "Invoice"

    customer_ref: Ref | None = None
    sales_term_ref: Ref | None = None
    due_date: OptionalDate = None
    balance: Money = None
    home_balance: Money = None
    email_status: str | None = None
    print_status: str | None = None
    bill_email: EmailAddress | None = None
    bill_email_cc: EmailAddress | None = None
    bill_email_bcc: EmailAddress | None = None
    delivery_info: DeliveryInfo | None = None
    bill_addr: PhysicalAddress | None = None
    ship_addr: PhysicalAddress | None = None
    customer_memo: MemoRef | None = None
    allow_online_credit_card_payment: bool | None = None
    allow_online_ach_payment: bool | None = Field(default=None, alias="AllowOnlineACHPayment")
    invoice_link: str | None = None
    line: list[SalesLine] = Field(default_factory=list)


class Payment(Transaction):
    entity_name: ClassVar[str] = "Payment"

    customer_ref: Ref | None = None
    deposit_to_account_ref: Ref | None = None
    payment_method_ref: Ref | None = None
    payment_ref_num: str | None = None
    ar_account_ref: Ref | None = Field(default=None, alias="ARAccountRef")
    unapplied_amt: Money = None
    line: list[PaymentLine] = Field(default_factory=list)


class Purchase(Transaction):
    entity_name: ClassVar[str] = "Purchase"

    payment_type: str | None = None
    account_ref: Ref | None = None
    entity_ref: Ref | None = None
    credit: bool | None = None
    payment_method_ref: Ref | None = None
    print_status: str | None = None
    line: list[ExpenseLine] = Field(default_factory=list)


class Deposit(Transaction):
    entity_name: ClassVar[str] = "Deposit"

    deposit_to_account_ref: Ref | None = None
    cash_back: dict[str, Any] | None = None
    line: list[DepositLine] = Field(default_factory=list)


class CompanyInfo(QBOEntity):
    entity_name: ClassVar[str] = "CompanyInfo"

    company_name: str | None = None
    legal_name: str | None = None
    company_addr: PhysicalAddress | None = None
    legal_addr: PhysicalAddress | None = None
    primary_phone: TelephoneNumber | None = None
    email: EmailAddress | None = None
    web_addr: WebAddress | None = None
    company_start_date: OptionalDate = None
    fiscal_year_start_month: str | None = None
    country: str | None = None
    supported_languages: str | None = None
    name_value: list[NameValue] = Field(default_factory=list)


class Preferences(QBOEntity):
    """Company preferences, kept loose: the sections we read are plain mappings."""

    entity_name: ClassVar[str] = "Preferences"

    currency_prefs: dict[str, Any] | None = None
    report_prefs: dict[str, Any] | None = None

    @property
    def home_currency(self) -> str | None:
        home = (self.currency_prefs or {}).get("HomeCurrency") or {}
        value = home.get("value") if isinstance(home, Mapping) else None
        return str(value) if value is not None else None


ENTITY_TYPES: dict[str, type[QBOEntity]] = {
    cls.entity_name: cls
    for cls in (
        Account,
        Vendor,
        Customer,
        Term,
        Item,
        Bill,
        BillPayment,
        Invoice,
        Payment,
        Purchase,
        Deposit,
        CompanyInfo,
        Preferences,
    )
}


# -- response envelopes ----------------------------------------------------------------------------------------------


class QueryResponse(QBOModel):
    """``QueryResponse``: the page's rows sit under the entity's name, kept as an unknown field."""

    model_config = ConfigDict(alias_generator=None)

    start_position: int | None = Field(default=None, alias="startPosition")
    max_results: int | None = Field(default=None, alias="maxResults")
    total_count: int | None = Field(default=None, alias="totalCount")

    def rows(self, entity_name: str) -> list[dict[str, Any]]:
        rows = (self.model_extra or {}).get(entity_name) or []
        return [row for row in rows if isinstance(row, dict)]

    def entity_names(self) -> list[str]:
        return [name for name, value in (self.model_extra or {}).items() if isinstance(value, list)]


class CDCBlock(QBOModel):
    query_response: list[QueryResponse] = Field(default_factory=list)


class CDCEnvelope(QBOModel):
    cdc_response: list[CDCBlock] = Field(default_factory=list, alias="CDCResponse")
    time: OptionalTimestamp = Field(default=None, alias="time")


class BatchItemResponse(QBOModel):
    """One answer of a batch: the entity under its name (unknown field), a ``QueryResponse`` or a ``Fault``."""

    b_id: str = Field(alias="bId")
    fault: dict[str, Any] | None = None
    query_response: QueryResponse | None = None

    def entity_payload(self) -> tuple[str, dict[str, Any]] | None:
        for name, value in (self.model_extra or {}).items():
            if name in ENTITY_TYPES and isinstance(value, dict):
                return name, value
        return None


class BatchEnvelope(QBOModel):
    batch_item_response: list[BatchItemResponse] = Field(default_factory=list)


# -- reports --------------------------------------------------------------------------------------------------------


class ColData(QBOModel):
    model_config = ConfigDict(alias_generator=None)

    value: str = ""
    id: str | None = None


class RowCells(QBOModel):
    col_data: list[ColData] = Field(default_factory=list)


class ReportRow(QBOModel):
    type: str | None = Field(default=None, alias="type")
    group: str | None = Field(default=None, alias="group")
    header: RowCells | None = None
    col_data: list[ColData] = Field(default_factory=list)
    rows: ReportRows | None = None
    summary: RowCells | None = None


class ReportRows(QBOModel):
    row: list[ReportRow] = Field(default_factory=list)


ReportRow.model_rebuild()


class ReportColumn(QBOModel):
    col_title: str = ""
    col_type: str | None = None
    meta_data: list[NameValue] = Field(default_factory=list)


class ReportColumns(QBOModel):
    column: list[ReportColumn] = Field(default_factory=list)


class ReportHeader(QBOModel):
    time: OptionalTimestamp = None
    report_name: str | None = None
    start_period: OptionalDate = None
    end_period: OptionalDate = None
    currency: str | None = None
    option: list[NameValue] = Field(default_factory=list)


class Report(QBOModel):
    """A QBO report as sent: ``Header``, ``Columns`` and recursively nested ``Rows``."""

    header: ReportHeader = Field(default_factory=ReportHeader)
    columns: ReportColumns = Field(default_factory=ReportColumns)
    rows: ReportRows = Field(default_factory=ReportRows)


class AgingLine(BaseModel):
    """One vendor's or customer's open balance by aging bucket (bucket titles as QBO heads the columns)."""

    party_id: str | None
    party_name: str
    buckets: dict[str, Decimal]
    total: Decimal


class AgingReport(BaseModel):
    """An AgedPayables / AgedReceivables summary: one line per party, and the grand total."""

    report_name: str
    report_date: date | None
    currency: str | None
    bucket_titles: list[str]
    lines: list[AgingLine]
    total: AgingLine | None

    @classmethod
    def from_report(cls, report: Report) -> AgingReport:
        # Column 0 names the party, the last is the row total; the ones between are the buckets.
        titles = [column.col_title for column in report.columns.column[1:-1]]
        lines: list[AgingLine] = []
        total: AgingLine | None = None
        for row in report.rows.row:
            if row.col_data:
                lines.append(_aging_line(row.col_data, titles))
            elif row.summary is not None and row.summary.col_data:
                total = _aging_line(row.summary.col_data, titles)
        options = {option.name: option.value for option in report.header.option}
        report_date = options.get("report_date") or None
        return cls(
            report_name=report.header.report_name or "",
            report_date=date.fromisoformat(report_date) if report_date else report.header.end_period,
            currency=report.header.currency,
            bucket_titles=titles,
            lines=lines,
            total=total,
        )


def _amount(cell: ColData) -> Decimal:
    text = cell.value.replace(",", "").strip()
    return Decimal(text) if text else Decimal(0)


def _aging_line(cells: list[ColData], titles: list[str]) -> AgingLine:
    amounts = [_amount(cell) for cell in cells[1 : len(titles) + 1]]
    return AgingLine(
        party_id=cells[0].id,
        party_name=cells[0].value,
        buckets=dict(zip(titles, amounts, strict=True)),
        total=_amount(cells[len(titles) + 1]) if len(cells) > len(titles) + 1 else sum(amounts, Decimal(0)),
    )


# -- exact JSON for writes ------------------------------------------------------------------------------------------


def encode_json(value: Any) -> bytes:
    """JSON bytes for a request body; Decimals become JSON numbers with exactly their digits (never via float)."""
    parts: list[str] = []
    _encode_into(value, parts)
    return "".join(parts).encode("utf-8")


def encode_raw_json(value: Mapping[str, Any]) -> bytes:
    """JSON bytes for an object as QBO sent it (parsed with Decimal amounts), in one C-accelerated pass: each
    Decimal is spliced in as its own digits (``orjson.Fragment``), never through float. The mirror stores every object
    it syncs this way, so this runs once per object rather than once per value. An int beyond 64 bits (which orjson
    refuses) falls back to :func:`encode_json`."""
    try:
        return orjson.dumps(value, default=_exact_fragment, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as error:
        if isinstance(error.__cause__, ValueError):
            raise error.__cause__ from None  # a non-finite amount: refused as encode_json refuses it
        return encode_json(value)


def _exact_fragment(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot store the non-finite amount {value}")
        return orjson.Fragment(format(value, "f"))
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_none=True)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _encode_into(value: Any, out: list[str]) -> None:
    if isinstance(value, BaseModel):
        _encode_into(value.model_dump(by_alias=True, exclude_none=True), out)
    elif value is None or isinstance(value, bool | int | str):
        out.append(_scalar(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send the non-finite amount {value} to QBO")
        out.append(format(value, "f"))
    elif isinstance(value, datetime | date):
        out.append(_scalar(value.isoformat()))
    elif isinstance(value, Mapping):
        _encode_object(value, out)
    elif isinstance(value, list | tuple):
        _encode_array(value, out)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} for QBO")


def _scalar(value: bool | int | str | None) -> str:
    return json.dumps(value)


def _encode_object(value: Mapping[Any, Any], out: list[str]) -> None:
    out.append("{")
    for index, (key, item) in enumerate(value.items()):
        if index:
            out.append(",")
        out.append(_scalar(str(key)))
        out.append(":")
        _encode_into(item, out)
    out.append("}")


def _encode_array(value: list[Any] | tuple[Any, ...], out: list[str]) -> None:
    out.append("[")
    for index, item in enumerate(value):
        if index:
            out.append(",")
        _encode_into(item, out)
    out.append("]")
