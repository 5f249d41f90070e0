"""The QBO mirror: one table per mirrored entity type (the raw QBO object beside typed, indexed columns for what the
product filters and sums on), and the bookkeeping of syncs (runs, the per-realm CDC cursor, full-sync progress).

Every mirrored row shares one shape (:class:`MirroredRow`): ``business_id`` (the tenant), QBO's ``Id``,
``SyncToken`` and ``MetaData`` times, the whole object as QBO sent it (``raw``), and a ``status``. A deleted or voided
object is never dropped: a delete keeps the last known object with ``status = deleted`` and ``deleted_at``; a void
keeps the voided object (amounts zeroed by QBO) with ``status = voided``. Each entity type adds its typed columns and
says how they are read from ``raw`` (:meth:`MirroredRow.typed_values`), so the sync code stays generic.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from oodaloo.domains.qbo.schemas import QBOEntity, encode_json, encode_raw_json
from oodaloo.infra.db.base import Base, IdMixin, str_enum, utcnow
from oodaloo.infra.exact_json import loads_exact

# QBO amounts carry two decimals; 18 digits hold any balance a small business can have.
MONEY = Numeric(18, 2)
QBO_ID_LENGTH = 32
NAME_LENGTH = 500  # QBO's longest names (FullyQualifiedName of nested accounts/customers)
# QBO writes "Voided" at the start of a voided transaction's PrivateNote (API_NOTES §4.5).
VOID_NOTE_PREFIX = "Voided"

Raw = dict[str, Any]


class MirrorStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # a name-list object made inactive (QBO's "delete" for names)
    VOIDED = "voided"  # a voided transaction: kept by QBO with its amounts zeroed
    DELETED = "deleted"  # deleted in QBO: the row keeps the last version we saw


class ExactJSON(TypeDecorator[dict[str, Any]]):
    """A QBO object kept as JSON text with each number's own digits: amounts arrive as Decimal and must never pass
    through float (a JSON column would refuse Decimals or round them). Read back with Decimals again.

    Bytes bound to it are taken as JSON already (an object as QBO sent it) and stored as they are."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | bytes | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            return value.decode("utf-8")
        return encode_raw_json(value).decode("utf-8")

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        loaded: dict[str, Any] = loads_exact(value)
        return loaded


def raw_of(entity: QBOEntity) -> Raw:
    """The object as QBO sent it: parsing keeps every field it sent, so dumping those (and no defaults) gives QBO's
    JSON again (amounts as exact Decimals, dates and times in QBO's ISO form)."""
    sent = entity.model_dump(by_alias=True, exclude_unset=True, exclude_none=True)
    loaded: Raw = json.loads(encode_json(sent), parse_float=Decimal)
    return loaded


# -- reading typed values out of a raw QBO object -------------------------------------------------------------------


def ref_id(raw: Any, name: str) -> str | None:
    """The id in ``raw``'s reference ``name`` (``{"value": id, "name": ...}``); None without one."""
    ref = raw.get(name) if isinstance(raw, dict) else None
    value = ref.get("value") if isinstance(ref, dict) else None
    return str(value) if value not in (None, "") else None


def ref_name(raw: Any, name: str) -> str | None:
    """The name in ``raw``'s reference ``name`` (as QBO had it when it sent ``raw``); None without one."""
    ref = raw.get(name) if isinstance(raw, dict) else None
    value = ref.get("name") if isinstance(ref, dict) else None
    return str(value) if value else None


def money(raw: Raw, name: str) -> Decimal | None:
    value = raw.get(name)
    if isinstance(value, Decimal):  # as QBO's answers are parsed
        return value
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def day(raw: Raw, name: str) -> date | None:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def text(raw: Raw, name: str, limit: int = NAME_LENGTH) -> str | None:
    value = raw.get(name)
    return str(value)[:limit] if value not in (None, "") else None


def flag(raw: Raw, name: str) -> bool | None:
    value = raw.get(name)
    return value if isinstance(value, bool) else None


def whole(raw: Raw, name: str) -> int | None:
    value = raw.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


Extractor = Callable[[Raw], Any]


# -- the shared shape -----------------------------------------------------------------------------------------------


class MirroredRow(IdMixin):
    """One QBO object of one business. Lifecycle: inserted by a sync; replaced by any version no older (a higher
    ``SyncToken``, or the same one with a later or equal ``LastUpdatedTime``: QBO moves a vendor's or account's balance
    without a new SyncToken); ``status`` follows QBO (active, inactive, voided); a delete turns it ``deleted`` for
    good, keeping the last version seen."""

    qbo_entity: ClassVar[str]
    # Typed column -> how it is read from the raw object.
    typed: ClassVar[dict[str, Extractor]] = {}
    # Typed columns worth an index (each as (business_id, column)).
    indexed: ClassVar[tuple[str, ...]] = ()

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    qbo_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    sync_token: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    qbo_created_at: Mapped[datetime | None]
    qbo_updated_at: Mapped[datetime | None]
    status: Mapped[MirrorStatus] = mapped_column(str_enum(MirrorStatus, "mirror_status"), default=MirrorStatus.ACTIVE)
    deleted_at: Mapped[datetime | None]
    raw: Mapped[Raw] = mapped_column(ExactJSON)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        table: str = cls.__dict__["__tablename__"]
        return (
            UniqueConstraint("business_id", "qbo_id", name=f"uq_{table}_business_id_qbo_id"),
            Index(f"ix_{table}_business_id_status", "business_id", "status"),
            # The books version (runway.core.books_version): the newest stamp, count and stamp sum from the index.
            Index(f"ix_{table}_business_id_synced_at", "business_id", "synced_at"),
            *(Index(f"ix_{table}_business_id_{column}", "business_id", column) for column in cls.indexed),
        )

    @classmethod
    def typed_values(cls, raw: Raw) -> dict[str, Any]:
        return {column: extract(raw) for column, extract in cls.typed.items()}


class NameListRow(MirroredRow):
    """Name lists (accounts, vendors, customers, terms, items): never deleted in QBO, made inactive instead."""

    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    active: Mapped[bool | None] = mapped_column(Boolean)


class TransactionRow(MirroredRow):
    """Fields every transaction carries; ``total_amt`` is QBO's ``TotalAmt`` (``Amount`` for a Transfer)."""

    doc_number: Mapped[str | None] = mapped_column(String(64))
    txn_date: Mapped[date | None] = mapped_column(Date)
    total_amt: Mapped[Decimal | None] = mapped_column(MONEY)


_TXN: dict[str, Extractor] = {
    "doc_number": lambda raw: text(raw, "DocNumber", 64),
    "txn_date": lambda raw: day(raw, "TxnDate"),
    "total_amt": lambda raw: money(raw, "TotalAmt"),
}
_NAMED: dict[str, Extractor] = {
    "name": lambda raw: text(raw, "Name"),
    "active": lambda raw: flag(raw, "Active"),
}


# -- company --------------------------------------------------------------------------------------------------------


class MirroredCompanyInfo(MirroredRow, Base):
    __tablename__ = "qbo_company_info"
    qbo_entity = "CompanyInfo"
    typed = {
        "company_name": lambda raw: text(raw, "CompanyName"),
        "country": lambda raw: text(raw, "Country", 8),
    }

    company_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    country: Mapped[str | None] = mapped_column(String(8))


class MirroredPreferences(MirroredRow, Base):
    __tablename__ = "qbo_preferences"
    qbo_entity = "Preferences"
    typed = {"home_currency": lambda raw: ref_id(raw.get("CurrencyPrefs") or {}, "HomeCurrency")}

    home_currency: Mapped[str | None] = mapped_column(String(8))


# -- name lists -----------------------------------------------------------------------------------------------------


class MirroredAccount(NameListRow, Base):
    __tablename__ = "qbo_accounts"
    qbo_entity = "Account"
    indexed = ("account_type",)
    typed = {
        **_NAMED,
        "account_type": lambda raw: text(raw, "AccountType", 64),
        "account_sub_type": lambda raw: text(raw, "AccountSubType", 64),
        "classification": lambda raw: text(raw, "Classification", 32),
        "current_balance": lambda raw: money(raw, "CurrentBalance"),
        "parent_id": lambda raw: ref_id(raw, "ParentRef"),
    }

    account_type: Mapped[str | None] = mapped_column(String(64))
    account_sub_type: Mapped[str | None] = mapped_column(String(64))
    classification: Mapped[str | None] = mapped_column(String(32))
    current_balance: Mapped[Decimal | None] = mapped_column(MONEY)
    parent_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))


class MirroredVendor(NameListRow, Base):
    __tablename__ = "qbo_vendors"
    qbo_entity = "Vendor"
    typed = {**_NAMED, "name": lambda raw: text(raw, "DisplayName"), "balance": lambda raw: money(raw, "Balance")}

    balance: Mapped[Decimal | None] = mapped_column(MONEY)


class MirroredCustomer(NameListRow, Base):
    __tablename__ = "qbo_customers"
    qbo_entity = "Customer"
    typed = {
        **_NAMED,
        "name": lambda raw: text(raw, "DisplayName"),
        "balance": lambda raw: money(raw, "Balance"),
        "parent_id": lambda raw: ref_id(raw, "ParentRef"),
    }

    balance: Mapped[Decimal | None] = mapped_column(MONEY)
    parent_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))


class MirroredTerm(NameListRow, Base):
    __tablename__ = "qbo_terms"
    qbo_entity = "Term"
    typed = {**_NAMED, "due_days": lambda raw: whole(raw, "DueDays")}

    due_days: Mapped[int | None] = mapped_column(Integer)


class MirroredItem(NameListRow, Base):
    __tablename__ = "qbo_items"
    qbo_entity = "Item"
    typed = {
        **_NAMED,
        "item_type": lambda raw: text(raw, "Type", 32),
        "income_account_id": lambda raw: ref_id(raw, "IncomeAccountRef"),
        "expense_account_id": lambda raw: ref_id(raw, "ExpenseAccountRef"),
    }

    item_type: Mapped[str | None] = mapped_column(String(32))
    income_account_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    expense_account_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))


# -- payables -------------------------------------------------------------------------------------------------------


class MirroredBill(TransactionRow, Base):
    __tablename__ = "qbo_bills"
    qbo_entity = "Bill"
    indexed = ("vendor_id", "due_date", "txn_date")
    typed = {
        **_TXN,
        "vendor_id": lambda raw: ref_id(raw, "VendorRef"),
        "due_date": lambda raw: day(raw, "DueDate"),
        "balance": lambda raw: money(raw, "Balance"),
    }

    vendor_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    due_date: Mapped[date | None] = mapped_column(Date)
    balance: Mapped[Decimal | None] = mapped_column(MONEY)


class MirroredBillPayment(TransactionRow, Base):
    __tablename__ = "qbo_bill_payments"
    qbo_entity = "BillPayment"
    indexed = ("vendor_id", "txn_date")
    typed = {
        **_TXN,
        "vendor_id": lambda raw: ref_id(raw, "VendorRef"),
        "pay_type": lambda raw: text(raw, "PayType", 32),
        "account_id": lambda raw: (
            ref_id(raw.get("CheckPayment") or {}, "BankAccountRef")
            or ref_id(raw.get("CreditCardPayment") or {}, "CCAccountRef")
        ),
    }

    vendor_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    pay_type: Mapped[str | None] = mapped_column(String(32))
    account_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))  # the bank or credit card paid from


class MirroredVendorCredit(TransactionRow, Base):
    __tablename__ = "qbo_vendor_credits"
    qbo_entity = "VendorCredit"
    indexed = ("vendor_id",)
    typed = {**_TXN, "vendor_id": lambda raw: ref_id(raw, "VendorRef"), "balance": lambda raw: money(raw, "Balance")}

    vendor_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    balance: Mapped[Decimal | None] = mapped_column(MONEY)


class MirroredPurchase(TransactionRow, Base):
    __tablename__ = "qbo_purchases"
    qbo_entity = "Purchase"
    indexed = ("account_id", "txn_date")
    typed = {
        **_TXN,
        "account_id": lambda raw: ref_id(raw, "AccountRef"),
        "payee_id": lambda raw: ref_id(raw, "EntityRef"),
        "payment_type": lambda raw: text(raw, "PaymentType", 32),
    }

    account_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    payee_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    payment_type: Mapped[str | None] = mapped_column(String(32))


# -- receivables ----------------------------------------------------------------------------------------------------


class MirroredInvoice(TransactionRow, Base):
    __tablename__ = "qbo_invoices"
    qbo_entity = "Invoice"
    indexed = ("customer_id", "due_date", "txn_date")
    typed = {
        **_TXN,
        "customer_id": lambda raw: ref_id(raw, "CustomerRef"),
        "due_date": lambda raw: day(raw, "DueDate"),
        "balance": lambda raw: money(raw, "Balance"),
    }

    customer_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    due_date: Mapped[date | None] = mapped_column(Date)
    balance: Mapped[Decimal | None] = mapped_column(MONEY)


class MirroredPayment(TransactionRow, Base):
    __tablename__ = "qbo_payments"
    qbo_entity = "Payment"
    indexed = ("customer_id", "txn_date")
    typed = {
        **_TXN,
        "customer_id": lambda raw: ref_id(raw, "CustomerRef"),
        "deposit_account_id": lambda raw: ref_id(raw, "DepositToAccountRef"),
        "unapplied_amt": lambda raw: money(raw, "UnappliedAmt"),
    }

    customer_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    deposit_account_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    unapplied_amt: Mapped[Decimal | None] = mapped_column(MONEY)


class MirroredCreditMemo(TransactionRow, Base):
    __tablename__ = "qbo_credit_memos"
    qbo_entity = "CreditMemo"
    indexed = ("customer_id",)
    typed = {
        **_TXN,
        "customer_id": lambda raw: ref_id(raw, "CustomerRef"),
        "balance": lambda raw: money(raw, "Balance"),
    }

    customer_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    balance: Mapped[Decimal | None] = mapped_column(MONEY)


class MirroredSalesReceipt(TransactionRow, Base):
    __tablename__ = "qbo_sales_receipts"
    qbo_entity = "SalesReceipt"
    indexed = ("customer_id", "txn_date")
    typed = {
        **_TXN,
        "customer_id": lambda raw: ref_id(raw, "CustomerRef"),
        "deposit_account_id": lambda raw: ref_id(raw, "DepositToAccountRef"),
    }

    customer_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    deposit_account_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))


# -- banking and the general ledger ---------------------------------------------------------------------------------


class MirroredDeposit(TransactionRow, Base):
    __tablename__ = "qbo_deposits"
    qbo_entity = "Deposit"
    indexed = ("deposit_account_id", "txn_date")
    typed = {**_TXN, "deposit_account_id": lambda raw: ref_id(raw, "DepositToAccountRef")}

    deposit_account_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))


class MirroredTransfer(TransactionRow, Base):
    __tablename__ = "qbo_transfers"
    qbo_entity = "Transfer"
    indexed = ("txn_date",)
    typed = {
        **_TXN,
        "total_amt": lambda raw: money(raw, "Amount"),  # a Transfer has Amount, no TotalAmt
        "from_account_id": lambda raw: ref_id(raw, "FromAccountRef"),
        "to_account_id": lambda raw: ref_id(raw, "ToAccountRef"),
    }

    from_account_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))
    to_account_id: Mapped[str | None] = mapped_column(String(QBO_ID_LENGTH))


class MirroredJournalEntry(TransactionRow, Base):
    __tablename__ = "qbo_journal_entries"
    qbo_entity = "JournalEntry"
    indexed = ("txn_date",)
    typed = {**_TXN, "adjustment": lambda raw: flag(raw, "Adjustment")}

    adjustment: Mapped[bool | None] = mapped_column(Boolean)


# Every mirrored type by QBO entity name: singletons, then name lists, then transactions (names before the
# transactions that refer to them, which is also the order a full sync starts them in).
MIRRORED: dict[str, type[MirroredRow]] = {
    model.qbo_entity: model
    for model in (
        MirroredCompanyInfo,
        MirroredPreferences,
        MirroredAccount,
        MirroredVendor,
        MirroredCustomer,
        MirroredTerm,
        MirroredItem,
        MirroredBill,
        MirroredBillPayment,
        MirroredVendorCredit,
        MirroredInvoice,
        MirroredPayment,
        MirroredCreditMemo,
        MirroredSalesReceipt,
        MirroredPurchase,
        MirroredDeposit,
        MirroredTransfer,
        MirroredJournalEntry,
    )
}
# Read one by one (no query paging, no CDC): QBO's CDC does not cover them.
SINGLETONS = frozenset({"CompanyInfo", "Preferences"})
NAME_LISTS = frozenset(name for name, model in MIRRORED.items() if issubclass(model, NameListRow))


def status_of(entity: str, raw: Raw) -> MirrorStatus:
    """The status QBO's object implies: deleted stubs, inactive names, voided transactions (zeroed, noted)."""
    if raw.get("status") == "Deleted":
        return MirrorStatus.DELETED
    if entity in NAME_LISTS and raw.get("Active") is False:
        return MirrorStatus.INACTIVE
    note = raw.get("PrivateNote")
    if isinstance(note, str) and note.startswith(VOID_NOTE_PREFIX) and not money(raw, "TotalAmt"):
        return MirrorStatus.VOIDED
    return MirrorStatus.ACTIVE


# -- sync bookkeeping -----------------------------------------------------------------------------------------------


class SyncKind(enum.StrEnum):
    FULL = "full"
    CDC = "cdc"
    RECONCILE = "reconcile"  # the cursor was beyond CDC's reach: ids listed, missing ones marked deleted


class SyncOutcome(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SyncRun(IdMixin, Base):
    """One sync of one business's realm. Lifecycle: ``running`` when started; ``succeeded`` or ``failed`` (with
    ``error``) when it ends. A run that died stays ``running`` (or ``failed``); the business's next full sync continues
    its work from the stored progress as a new run."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_business_id_started_at", "business_id", "started_at"),)

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    kind: Mapped[SyncKind] = mapped_column(str_enum(SyncKind, "sync_kind"))
    outcome: Mapped[SyncOutcome] = mapped_column(str_enum(SyncOutcome, "sync_outcome"), default=SyncOutcome.RUNNING)
    # Objects stored per entity type, and QBO calls made (each page, CDC or read is one).
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(2000))
    # QBO's time (its response ``time``) the run brought the mirror up to; the business's next CDC starts there.
    cursor: Mapped[datetime | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class SyncState(IdMixin, Base):
    """Where a business's mirror stands: ``cdc_cursor`` is QBO's own response time of the last sync that brought
    everything up to date (never our clock); None until a first full sync completed."""

    __tablename__ = "qbo_sync_states"

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), unique=True)
    realm_id: Mapped[str] = mapped_column(String(QBO_ID_LENGTH))
    cdc_cursor: Mapped[datetime | None]
    last_full_sync_at: Mapped[datetime | None]
    singletons_synced_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FullSyncProgress(IdMixin, Base):
    """How far a business's full sync got with one entity type: the next ``STARTPOSITION`` to fetch, written in the
    same transaction as the page it follows, so a sync that died (whichever run it was) is continued after its last
    stored page. ``cursor`` is QBO's time at the type's first page: the CDC after the sync starts from the earliest
    one, so changes made while the sync paged are not lost. All rows ``done``: the next full sync starts over."""

    __tablename__ = "qbo_full_sync_progress"
    __table_args__ = (UniqueConstraint("business_id", "entity", name="uq_qbo_full_sync_progress_business_id_entity"),)

    business_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(64))
    next_position: Mapped[int] = mapped_column(Integer, default=1)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    cursor: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
