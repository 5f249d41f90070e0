"""Tests for the sandbox's QBO query language: parsing, validation faults, filtering, ordering and paging."""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oodaloo.sandbox.faults import QBOFault
from oodaloo.sandbox.query import ENTITIES, Condition, Query, canonical_entity, count, execute, parse_query
from oodaloo.sandbox.rules.realm import Realm

TZ = ZoneInfo("America/Los_Angeles")


def _fault(text: str) -> QBOFault:
    with pytest.raises(QBOFault) as caught:
        parse_query(text)
    return caught.value


def _code(fault: QBOFault) -> str:
    return fault.errors[0].code


def _detail(fault: QBOFault) -> str:
    return fault.errors[0].detail


def _bill(
    bill_id: int,
    *,
    balance: str = "0",
    txn_date: str = "2026-01-10",
    vendor: str | None = "56",
    updated: str = "2026-01-10T09:00:00-08:00",
    **extra: Any,
) -> dict[str, Any]:
    bill: dict[str, Any] = {
        "Id": str(bill_id),
        "SyncToken": "0",
        "TxnDate": txn_date,
        "TotalAmt": Decimal(balance) + Decimal("100.00"),
        "Balance": Decimal(balance),
        "MetaData": {"CreateTime": "2026-01-01T08:00:00-08:00", "LastUpdatedTime": updated},
    }
    if vendor is not None:
        bill["VendorRef"] = {"value": vendor, "name": f"Vendor {vendor}"}
    bill.update(extra)
    return bill


BILLS = [
    _bill(1, balance="0.00", txn_date="2026-01-05", DocNumber="NW-1", DueDate="2026-02-04"),
    _bill(2, balance="250.50", txn_date="2026-02-01", vendor="9", DocNumber="nw-2", DueDate="2026-03-03"),
    # Summer timestamps carry -07:00: "…T10:00:00-07:00" sorts lexically after "…T09:30:00-08:00" but is earlier.
    _bill(3, balance="10", txn_date="2026-07-01", vendor="10", updated="2026-07-01T10:00:00-07:00", DocNumber="A_1"),
    _bill(4, balance="10.00", txn_date="2026-07-01", vendor="10", updated="2026-07-01T09:30:00-08:00"),
    _bill(9, balance="999", txn_date="2026-03-15", vendor=None, DocNumber="Copy paper", DueDate=""),
    _bill(10, balance="5", txn_date="2026-03-15", DocNumber="AB1"),
    _bill(11, balance="5.0", txn_date="2026-01-05", vendor="56", DocNumber="O'Brien"),
]


def _ids(text: str, objects: list[dict[str, Any]] = BILLS) -> list[str]:
    query = parse_query(text)
    return [row["Id"] for row in execute(query, objects, entity=query.entity, tz=TZ)]


def _execute_fault(text: str) -> QBOFault:
    query = parse_query(text)
    with pytest.raises(QBOFault) as caught:
        execute(query, BILLS, entity=query.entity, tz=TZ)
    return caught.value


# --- Parsing ---------------------------------------------------------------------------------------------------


def _query(entity: str = "Bill", **changes: Any) -> Query:
    base = Query(entity=entity, count=False, fields=None, where=(), order_by=(), start_position=1, max_results=100)
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * FROM Bill", _query()),
        ("select * from bill   ", _query("bill")),
        ("  SeLeCt\t*\nFrOm   Bill  ", _query()),
        ("SELECT COUNT(*) FROM Invoice", _query("Invoice", count=True)),
        (
            "SELECT count ( * ) FROM Invoice WHERE Balance > '0'",
            _query("Invoice", count=True, where=(Condition(("Balance",), ">", ("0",)),)),
        ),
        ("SELECT *, Sku FROM Item", _query("Item", fields=("*", "Sku"))),
        ("SELECT Id, MetaData.CreateTime FROM Item", _query("Item", fields=("Id", "MetaData.CreateTime"))),
        ("SELECT * FROM Bill ORDERBY TxnDate", _query(order_by=((("TxnDate",), False),))),
        (
            "SELECT * FROM Bill ORDER BY TxnDate DESC, Id asc",
            _query(
                order_by=((("TxnDate",), True), (("Id",), False)),
            ),
        ),
        (
            "SELECT * FROM Bill order   by Metadata.LastUpdatedTime",
            _query(
                order_by=((("Metadata", "LastUpdatedTime"), False),),
            ),
        ),
        ("SELECT * FROM Bill STARTPOSITION 11 MAXRESULTS 10", _query(start_position=11, max_results=10)),
        ("SELECT * FROM Bill maxResults 10 startPosition 11", _query(start_position=11, max_results=10)),
        ("SELECT * FROM Bill MAXRESULTS 1000", _query(max_results=1000)),
        ("SELECT * FROM Bill STARTPOSITION 3", _query(start_position=3)),
    ],
)
def test_parse_accepts_qbo_query_shapes(text: str, expected: Query) -> None:
    assert parse_query(text) == expected


@pytest.mark.parametrize(
    ("where", "condition"),
    [
        ("DisplayName = 'O\\'Brien'", Condition(("DisplayName",), "=", ("O'Brien",))),
        ("DisplayName = 'back\\\\slash'", Condition(("DisplayName",), "=", ("back\\slash",))),
        ("Balance > 0", Condition(("Balance",), ">", (Decimal("0"),))),
        ("Balance >= -12.50", Condition(("Balance",), ">=", (Decimal("-12.50"),))),
        ("Balance > '0'", Condition(("Balance",), ">", ("0",))),
        ("Active = TRUE", Condition(("Active",), "=", (True,))),
        ("Active IN (true, false)", Condition(("Active",), "IN", (True, False))),
        ("Id IN ( '1' ,'2',  '3' )", Condition(("Id",), "IN", ("1", "2", "3"))),
        ("DisplayName LIKE '%Paper%'", Condition(("DisplayName",), "LIKE", ("%Paper%",))),
        ("DocNumber like 'A%'", Condition(("DocNumber",), "LIKE", ("A%",))),
        (
            "metadata.lastupdatedtime <= '2026-11-01T00:00:00Z'",
            Condition(
                ("metadata", "lastupdatedtime"),
                "<=",
                ("2026-11-01T00:00:00Z",),
            ),
        ),
        ("DocNumber = ''", Condition(("DocNumber",), "=", ("",))),
        ("TxnDate < '2026-01-01'", Condition(("TxnDate",), "<", ("2026-01-01",))),
    ],
)
def test_parse_literals(where: str, condition: Condition) -> None:
    assert parse_query(f"SELECT * FROM Vendor WHERE {where}").where == (condition,)


def test_parse_several_conditions_with_and() -> None:
    query = parse_query("SELECT * FROM Bill WHERE Balance > '0' and VendorRef = '56' AND TxnDate >= '2026-01-01'")
    assert [cond.path for cond in query.where] == [("Balance",), ("VendorRef",), ("TxnDate",)]


@pytest.mark.parametrize(
    ("text", "code", "detail"),
    [
        ("", "4000", "The query provided was empty"),
        ("   \n ", "4000", "The query provided was empty"),
        ("SELECT * FROM Bill WHERE Balance > '0' OR Balance < '5'", "4000", "OR and NOT are not supported"),
        ("SELECT * FROM Bill WHERE NOT Balance > '0'", "4000", "OR and NOT are not supported"),
        ("SELECT * FROM Bill WHERE", "4000", "<EOF>"),
        ("SELECT * Bill", "4000", "Encountered"),
        ("SELECT * FROMBill", "4000", "Encountered"),
        ("SELECT * FROM Bill WHERE DocNumber = 'open", "4000", "Lexical error"),
        ("SELECT * FROM Bill WHERE Balance !! 0", "4000", "Lexical error"),
        ("SELECT * FROM Bill WHERE DocNumber = abc", "4000", "Encountered"),
        ("SELECT * FROM Bill;", "4000", "Lexical error"),
        ("SELECT * FROM Bill MAXRESULTS 10 MAXRESULTS 20", "4000", "Encountered"),
        (
            "SELECT * FROM Bill MAXRESULTS 1500",
            "4001",
            "QueryValidationError: value 1500 is too large. Max allowed value is 1000",
        ),
        ("SELECT * FROM Bill MAXRESULTS 0", "4001", "too small"),
        ("SELECT * FROM Bill STARTPOSITION 0", "4001", "too small"),
        ("SELECT * FROM Bill STARTPOSITION -5", "4001", "too small"),
        ("SELECT * FROM Bill STARTPOSITION " + "9" * 5000, "4001", "too large"),
        ("SELECT * FROM Bills", "4001", "Bills is not a valid entity"),
        ("SELECT * FROM Employee", "4001", "not a valid entity"),
    ],
)
def test_parse_faults(text: str, code: str, detail: str) -> None:
    fault = _fault(text)
    assert (fault.status, fault.fault_type, _code(fault)) == (400, "ValidationFault", code)
    assert detail in _detail(fault)


def test_canonical_entity_is_case_insensitive() -> None:
    assert canonical_entity("billpayment") == "BillPayment"
    assert canonical_entity("COMPANYINFO") == "CompanyInfo"
    assert canonical_entity("Employee") is None
    assert all(canonical_entity(name.lower()) == name for name in ENTITIES)


# --- Filtering by field type -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "ids"),
    [
        # Id compares numerically: "10" > "9" although it sorts lower as text.
        ("Id > '9'", ["10", "11"]),
        ("Id >= 9", ["9", "10", "11"]),
        ("Id IN (2, '10')", ["2", "10"]),
        # Decimal compares numerically and ignores scale.
        ("Balance > '0'", ["2", "3", "4", "9", "10", "11"]),
        ("Balance = 10", ["3", "4"]),
        ("Balance = '5.00'", ["10", "11"]),
        ("Balance < 6", ["1", "10", "11"]),
        ("TotalAmt >= 350.5", ["2", "9"]),
        ("Balance IN (0, 999)", ["1", "9"]),
        # Dates.
        ("TxnDate >= '2026-03-15'", ["3", "4", "9", "10"]),
        ("TxnDate = '2026-01-05'", ["1", "11"]),
        ("DueDate < '2026-03-01'", ["1"]),
        # Strings are case-insensitive, LIKE has only the % wildcard.
        ("DocNumber = 'NW-2'", ["2"]),
        ("DocNumber > 'm'", ["1", "2", "11"]),
        ("DocNumber LIKE 'nw-%'", ["1", "2"]),
        ("DocNumber LIKE '%PAPER'", ["9"]),
        ("DocNumber LIKE 'A_1'", ["3"]),
        ("DocNumber LIKE 'a%1'", ["3", "10"]),
        ("DocNumber = 'O\\'Brien'", ["11"]),
        ("DocNumber IN ('ab1', 'Copy Paper')", ["9", "10"]),
        # Refs compare against the ref's value.
        ("VendorRef = '56'", ["1", "10", "11"]),
        ("VendorRef IN ('9', '10')", ["2", "3", "4"]),
        ("VendorRef LIKE '1%'", ["3", "4"]),
        # A missing field never matches, except `= ''`.
        ("VendorRef = ''", ["9"]),
        ("DueDate = ''", ["3", "4", "9", "10", "11"]),
        ("DueDate IN ('', '2026-02-04')", ["1", "3", "4", "9", "10", "11"]),
        ("DueDate >= '2000-01-01'", ["1", "2"]),
        ("DocNumber = ''", ["4"]),
        # != compares like = (numbers numerically, text ignoring case); a missing value never matches it.
        ("Balance != 0", ["2", "3", "4", "9", "10", "11"]),
        ("Id != '2'", ["1", "3", "4", "9", "10", "11"]),
        ("DocNumber != 'nw-2'", ["1", "3", "9", "10", "11"]),
        ("TxnDate != '2026-01-05'", ["2", "3", "4", "9", "10"]),
        ("VendorRef != '56'", ["2", "3", "4"]),
        ("DueDate != ''", ["1", "2"]),
        ("DocNumber != ''", ["1", "2", "3", "9", "10", "11"]),
        # Conditions combine with AND.
        ("Balance > '0' AND VendorRef = '10' AND TxnDate = '2026-07-01'", ["3", "4"]),
        ("Balance != '0' AND DocNumber != 'ab1'", ["2", "3", "9", "11"]),  # 4 has no DocNumber
    ],
)
def test_where_filters_by_field_type(where: str, ids: list[str]) -> None:
    assert _ids(f"SELECT * FROM Bill WHERE {where}") == ids


@pytest.mark.parametrize(
    ("literal", "ids"),
    [
        # Bill 4 updated 2026-07-01T17:30Z, bill 3 at 17:00Z; the others in January.
        ("'2026-07-01T17:15:00Z'", ["4"]),
        ("'2026-07-01T17:15:00+00:00'", ["4"]),
        ("'2026-07-01T10:15:00-07:00'", ["4"]),
        # No offset: the company's timezone (-07:00 in July).
        ("'2026-07-01T10:15:00'", ["4"]),
        ("'2026-07-01T09:59:59'", ["3", "4"]),
        # A bare date: the start of that day in the company's timezone.
        ("'2026-07-01'", ["3", "4"]),
        ("'2026-07-02'", []),
    ],
)
def test_datetime_literals_compare_as_instants(literal: str, ids: list[str]) -> None:
    assert _ids(f"SELECT * FROM Bill WHERE MetaData.LastUpdatedTime > {literal}") == ids


def test_datetime_equality_across_offsets() -> None:
    assert _ids("SELECT * FROM Bill WHERE MetaData.LastUpdatedTime = '2026-07-01T17:00:00Z'") == ["3"]
    assert _ids("SELECT * FROM Bill WHERE MetaData.LastUpdatedTime IN ('2026-07-01T09:30:00-08:00')") == ["4"]


def test_stored_timestamps_without_offset_are_in_company_time() -> None:
    bills = [_bill(1, updated="2026-07-01T10:00:00"), _bill(2, updated="2026-07-01T10:00:00-08:00")]
    assert _ids("SELECT * FROM Bill WHERE MetaData.LastUpdatedTime < '2026-07-01T17:30:00Z'", bills) == ["1"]


def test_order_by_datetime_uses_instants_not_text() -> None:
    summer = "SELECT * FROM Bill WHERE TxnDate = '2026-07-01' ORDER BY MetaData.LastUpdatedTime"
    assert _ids(summer) == ["3", "4"]
    assert _ids(summer + " DESC") == ["4", "3"]


@pytest.mark.parametrize(
    "path", ["MetaData.LastUpdatedTime", "Metadata.LastUpdatedTime", "metadata.lastupdatedtime", "METADATA.CREATETIME"]
)
def test_field_names_match_case_insensitively(path: str) -> None:
    assert _ids(f"SELECT * FROM Bill WHERE {path} >= '2026-01-01T00:00:00Z' MAXRESULTS 3") == ["1", "2", "3"]


def test_primary_email_compares_the_address() -> None:
    vendors = [
        {"Id": "1", "DisplayName": "Acme", "Active": True, "PrimaryEmailAddr": {"Address": "ap@acme.example"}},
        {"Id": "2", "DisplayName": "Globex", "Active": True},
    ]
    assert _ids("SELECT * FROM Vendor WHERE PrimaryEmailAddr = 'AP@acme.example'", vendors) == ["1"]
    assert _ids("SELECT * FROM Vendor WHERE PrimaryEmailAddr LIKE '%@acme%'", vendors) == ["1"]


ACCOUNTS = [
    {
        "Id": "1",
        "Name": "Checking",
        "AccountType": "Bank",
        "AccountSubType": "Checking",
        "Classification": "Asset",
        "CurrentBalance": Decimal("1200.00"),
        "Active": True,
    },
    {
        "Id": "2",
        "Name": "Old Savings",
        "AccountType": "Bank",
        "AccountSubType": "Savings",
        "Classification": "Asset",
        "CurrentBalance": Decimal("0"),
        "Active": False,
    },
    {
        "Id": "3",
        "Name": "Visa",
        "AccountType": "Credit Card",
        "AccountSubType": "CreditCard",
        "Classification": "Liability",
        "CurrentBalance": Decimal("310.25"),
        "Active": True,
    },
    {
        "Id": "4",
        "Name": "Accounts Payable (A/P)",
        "AccountType": "Accounts Payable",
        "Classification": "Liability",
        "CurrentBalance": Decimal("-5"),
        "Active": True,
    },
]


@pytest.mark.parametrize(
    ("where", "ids"),
    [
        ("", ["1", "3", "4"]),
        ("WHERE Active IN (true, false)", ["1", "2", "3", "4"]),
        ("WHERE Active = false", ["2"]),
        ("WHERE active = 'true'", ["1", "3", "4"]),
        ("WHERE AccountType = 'bank'", ["1"]),
        ("WHERE AccountType = 'Bank' AND Active IN (true, false)", ["1", "2"]),
        ("WHERE Classification IN ('Liability')", ["3", "4"]),
        ("WHERE AccountType LIKE 'Accounts%'", ["4"]),
        ("WHERE AccountSubType = 'CreditCard'", ["3"]),
        ("WHERE AccountType != 'bank'", ["3", "4"]),
        ("WHERE Active != false", ["1", "3", "4"]),
        ("WHERE Active != true", ["2"]),
        ("WHERE CurrentBalance > 0", ["1", "3"]),
        ("WHERE Name LIKE '%(A/P)'", ["4"]),
    ],
)
def test_name_lists_return_active_records_unless_active_is_filtered(where: str, ids: list[str]) -> None:
    assert _ids(f"SELECT * FROM Account {where}", ACCOUNTS) == ids


def test_transactions_are_not_filtered_on_active() -> None:
    inactive_flagged = [_bill(1, Active=False), _bill(2)]
    assert _ids("SELECT * FROM Bill", inactive_flagged) == ["1", "2"]


@pytest.mark.parametrize(
    ("entity", "condition"),
    [
        ("CompanyInfo", "CompanyName = 'x'"),
        ("Preferences", "MetaData.LastUpdatedTime > '2026-01-01'"),
        ("Account", "FullyQualifiedName = 'x'"),
        ("Vendor", "DisplayName = 'x' AND CompanyName = 'x' AND Balance > 0 AND APAccountRef = '33'"),
        ("Customer", "DisplayName = 'x' AND GivenName = 'x' AND FamilyName = 'x' AND Balance > 0"),
        ("Term", "Name = 'Net 30' AND Type = 'STANDARD'"),
        ("Item", "Name = 'x' AND FullyQualifiedName = 'x' AND Type = 'Service' AND Sku = 'x'"),
        ("Bill", "DueDate > '2026-01-01' AND APAccountRef = '33' AND DocNumber = 'x'"),
        ("BillPayment", "VendorRef = '1' AND PayType = 'Check' AND TotalAmt > 0 AND TxnDate > '2026-01-01'"),
        ("Invoice", "CustomerRef = '1' AND EmailStatus = 'NeedToSend' AND DueDate > '2026-01-01' AND Balance > 0"),
        ("Payment", "CustomerRef = '1' AND DepositToAccountRef = '35' AND TotalAmt > 0"),
        ("Purchase", "PaymentType = 'Check' AND TotalAmt > 0 AND DocNumber = 'x'"),
        ("Deposit", "DepositToAccountRef = '35' AND TxnDate > '2026-01-01'"),
    ],
)
def test_documented_fields_are_filterable(entity: str, condition: str) -> None:
    text = f"SELECT * FROM {entity} WHERE Id > '0' AND MetaData.CreateTime > '2026-01-01' AND {condition}"
    assert _ids(text, []) == []


# --- Validation faults from evaluation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("SELECT * FROM Bill WHERE TxnDate > 'abc'", "value 'abc' is not a valid Date for property TxnDate"),
        ("SELECT * FROM Bill WHERE TxnDate > 20260101", "not a valid Date"),
        ("SELECT * FROM Bill WHERE MetaData.LastUpdatedTime > 'yesterday'", "not a valid DateTime"),
        ("SELECT * FROM Bill WHERE Balance > 'abc'", "not a valid Decimal for property Balance"),
        ("SELECT * FROM Bill WHERE Balance > 'NaN'", "not a valid Decimal"),
        ("SELECT * FROM Bill WHERE Balance = true", "not a valid Decimal"),
        ("SELECT * FROM Bill WHERE Id = 'abc'", "not a valid Id"),
        ("SELECT * FROM Bill WHERE DocNumber = false", "not a valid String"),
        ("SELECT * FROM Vendor WHERE Active = 'maybe'", "not a valid Boolean for property Active"),
        ("SELECT * FROM Vendor WHERE Active = 1", "not a valid Boolean"),
        ("SELECT * FROM Bill WHERE TotalAmt LIKE '1%'", "operator LIKE is not supported for property TotalAmt"),
        ("SELECT * FROM Bill WHERE TxnDate LIKE '2026%'", "operator LIKE is not supported"),
        ("SELECT * FROM Vendor WHERE Active > false", "operator > is not supported for property Active"),
        ("SELECT * FROM Bill WHERE VendorRef > '5'", "operator > is not supported for property VendorRef"),
        ("SELECT * FROM Purchase WHERE PaymentType < 'Check'", "operator < is not supported"),
        ("SELECT * FROM Bill WHERE DocNumber LIKE 5", "LIKE needs a quoted pattern"),
        ("SELECT * FROM Bill WHERE Foo = 'x'", "property 'Foo' is not queryable for entity Bill"),
        ("SELECT * FROM Bill WHERE Line.Amount > 0", "property 'Line.Amount' is not queryable"),
        ("SELECT * FROM Bill WHERE Line.AccountBasedExpenseLineDetail.AccountRef = '7'", "not queryable"),
        ("SELECT * FROM Purchase WHERE DepartmentRef = '1'", "not queryable"),
        ("SELECT * FROM Bill WHERE CustomerRef = '1'", "not queryable"),
        ("SELECT * FROM Bill ORDER BY Line.Amount", "not queryable"),
        ("SELECT * FROM Bill ORDERBY Nonsense DESC", "property 'Nonsense' is not queryable"),
        ("SELECT * FROM Bill ORDERBY Id, Nonsense", "property 'Nonsense' is not queryable"),
    ],
)
def test_evaluation_faults(text: str, detail: str) -> None:
    fault = _execute_fault(text)
    assert _code(fault) == "4001"
    assert detail in _detail(fault)


def test_count_validates_like_execute() -> None:
    with pytest.raises(QBOFault) as caught:
        count(parse_query("SELECT COUNT(*) FROM Bill WHERE Line.Amount > 0"), BILLS, entity="Bill", tz=TZ)
    assert _code(caught.value) == "4001"


def test_unknown_entity_passed_to_execute_is_a_fault() -> None:
    with pytest.raises(QBOFault) as caught:
        execute(parse_query("SELECT * FROM Bill"), BILLS, entity="Employee", tz=TZ)
    assert _code(caught.value) == "4001"


# --- Ordering, paging, counting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "ids"),
    [
        ("", ["1", "2", "3", "4", "9", "10", "11"]),
        ("ORDER BY Id DESC", ["11", "10", "9", "4", "3", "2", "1"]),
        # Ties keep ascending Id whatever the direction.
        ("ORDER BY Balance", ["1", "10", "11", "3", "4", "2", "9"]),
        ("ORDER BY Balance DESC", ["9", "2", "3", "4", "10", "11", "1"]),
        ("ORDERBY TxnDate DESC, Balance", ["3", "4", "10", "9", "2", "1", "11"]),
        ("ORDER BY TxnDate, Id DESC", ["11", "1", "2", "10", "9", "4", "3"]),
        # Ids are unique: keys after an Id key never decide.
        ("ORDER BY Id, Balance DESC", ["1", "2", "3", "4", "9", "10", "11"]),
        ("ORDER BY Id DESC, TxnDate", ["11", "10", "9", "4", "3", "2", "1"]),
        # Strings ignore case; missing values sort lowest.
        ("ORDER BY DocNumber", ["4", "3", "10", "9", "1", "2", "11"]),
        ("ORDER BY DocNumber DESC", ["11", "2", "1", "9", "10", "3", "4"]),
        # Ref values that are ids order numerically.
        ("ORDER BY VendorRef", ["9", "2", "3", "4", "1", "10", "11"]),
    ],
)
def test_order_by(order: str, ids: list[str]) -> None:
    assert _ids(f"SELECT * FROM Bill {order}") == ids


def test_objects_stored_out_of_id_order_are_listed_by_numeric_id() -> None:
    """The realm hands the evaluator its objects in numeric Id order (``10`` after ``9``, not after ``1``), whatever
    order they were stored in, so a listing with no ORDERBY pages by Id without sorting."""
    realm = Realm(realm_id="1", tz_name="America/Los_Angeles", scenario="empty", seed=1, size=None)
    for bill in reversed(BILLS):
        realm.store_object("Bill", dict(bill))
    assert _ids("SELECT * FROM Bill", realm.ordered("Bill")) == ["1", "2", "3", "4", "9", "10", "11"]


@pytest.mark.parametrize(
    ("paging", "ids"),
    [
        ("MAXRESULTS 3", ["1", "2", "3"]),
        ("STARTPOSITION 3 MAXRESULTS 3", ["3", "4", "9"]),
        ("MAXRESULTS 3 STARTPOSITION 7", ["11"]),
        ("STARTPOSITION 8", []),
        ("STARTPOSITION 2147483647", []),
    ],
)
def test_paging_is_one_based(paging: str, ids: list[str]) -> None:
    assert _ids(f"SELECT * FROM Bill {paging}") == ids


def test_default_page_is_one_hundred_rows() -> None:
    bills = [_bill(n) for n in range(1, 151)]
    assert len(execute(parse_query("SELECT * FROM Bill"), bills, entity="Bill", tz=TZ)) == 100


def test_count_ignores_paging_and_applies_where() -> None:
    def total(text: str) -> int:
        return count(parse_query(text), BILLS, entity="Bill", tz=TZ)

    assert total("SELECT COUNT(*) FROM Bill") == 7
    assert total("select count(*) from Bill where Balance > '0' MAXRESULTS 2") == 6
    assert count(parse_query("SELECT COUNT(*) FROM Account"), ACCOUNTS, entity="account", tz=TZ) == 3


def test_execute_returns_the_stored_objects_unchanged() -> None:
    rows = execute(parse_query("SELECT *, Sku FROM Bill WHERE Id = '2'"), BILLS, entity="Bill", tz=TZ)
    assert rows == [BILLS[1]]
    assert rows[0]["Balance"] == Decimal("250.50")


# --- Property tests ------------------------------------------------------------------------------------------------

KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "like",
    "count",
    "order",
    "by",
    "orderby",
    "asc",
    "desc",
    "startposition",
    "maxresults",
    "true",
    "false",
}
names = st.one_of(
    st.sampled_from(["Id", "MetaData", "LastUpdatedTime", "Balance", "VendorRef", "DisplayName", "Active", "Sku"]),
    st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=8).filter(
        lambda name: not name[0].isdigit() and name.lower() not in KEYWORDS
    ),
)
paths = st.lists(names, min_size=1, max_size=3).map(tuple)
decimals = st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False, allow_infinity=False)
values = st.one_of(st.text(max_size=12), st.booleans(), decimals)


CASINGS: st.SearchStrategy[Callable[[str], str]] = st.sampled_from(
    [
        str.upper,
        str.lower,
        str.title,
        lambda word: "".join(char.upper() if index % 2 else char.lower() for index, char in enumerate(word)),
    ]
)


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    op = draw(st.sampled_from(["=", "!=", "<", ">", "<=", ">=", "IN", "LIKE"]))
    literals = draw(st.lists(values, min_size=1, max_size=4)) if op == "IN" else [draw(values)]
    return Condition(draw(paths), op, tuple(literals))


@st.composite
def queries(draw: st.DrawFn) -> Query:
    entity = "".join(char.upper() if draw(st.booleans()) else char.lower() for char in draw(st.sampled_from(ENTITIES)))
    is_count = draw(st.booleans())
    fields = None
    if not is_count and draw(st.booleans()):
        items = [".".join(path) for path in draw(st.lists(paths, min_size=1, max_size=3))]
        fields = tuple(["*", *items] if draw(st.booleans()) else items)
    return Query(
        entity=entity,
        count=is_count,
        fields=fields,
        where=tuple(draw(st.lists(conditions(), max_size=4))),
        order_by=tuple(draw(st.lists(st.tuples(paths, st.booleans()), max_size=3))),
        start_position=draw(st.one_of(st.just(1), st.integers(1, 10**6))),
        max_results=draw(st.one_of(st.just(100), st.integers(1, 1000))),
    )


def _render_literal(value: str | bool | Decimal) -> str:
    if isinstance(value, bool):
        return "true" if value else "FALSE"
    if isinstance(value, Decimal):
        return format(value, "f")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@st.composite
def rendered(draw: st.DrawFn, query: Query) -> str:
    """QBO text for ``query`` with random keyword case, spacing and ORDER BY spelling."""

    def kw(word: str) -> str:
        return draw(CASINGS)(word)

    def gap() -> str:
        return draw(st.sampled_from([" ", "  ", "\t", "\n", " \r\n "]))

    def tight() -> str:
        return draw(st.sampled_from(["", " ", "  "]))

    def listed(items: list[str]) -> str:
        return f"{tight()},{tight()}".join(items)

    if query.count:
        projection = f"{kw('count')}{tight()}({tight()}*{tight()})"
    else:
        projection = listed(list(query.fields)) if query.fields else "*"
    parts = [kw("select"), projection, kw("from"), query.entity]
    terms = []
    for cond in query.where:
        path = ".".join(cond.path)
        rendered = [_render_literal(value) for value in cond.values]
        if cond.op == "IN":
            terms.append(f"{path}{gap()}{kw('in')}{tight()}({tight()}{listed(rendered)}{tight()})")
        elif cond.op == "LIKE":
            terms.append(f"{path}{gap()}{kw('like')}{gap()}{rendered[0]}")
        else:
            terms.append(f"{path}{tight()}{cond.op}{tight()}{rendered[0]}")
    if terms:
        parts += [kw("where"), f"{gap()}{kw('and')}{gap()}".join(terms)]
    if query.order_by:
        keys = []
        for key_path, descending in query.order_by:
            direction = kw("desc") if descending else draw(st.sampled_from(["", kw("asc")]))
            keys.append(f"{'.'.join(key_path)}{gap()}{direction}".rstrip())
        parts += [draw(st.sampled_from([kw("orderby"), f"{kw('order')}{gap()}{kw('by')}"])), listed(keys)]
    paging = []
    if query.start_position != 1 or draw(st.booleans()):
        paging.append(f"{kw('startposition')}{gap()}{query.start_position}")
    if query.max_results != 100 or draw(st.booleans()):
        paging.append(f"{kw('maxresults')}{gap()}{query.max_results}")
    parts += draw(st.permutations(paging))
    return tight() + "".join(part + gap() for part in parts)


@settings(max_examples=120, deadline=None)
@given(query=queries(), data=st.data())
def test_rendered_queries_parse_back_to_the_same_ast(query: Query, data: st.DataObject) -> None:
    text = data.draw(rendered(query))
    assert parse_query(text) == query


token_soup = st.lists(
    st.sampled_from(
        [
            "SELECT",
            "*",
            "COUNT(*)",
            "FROM",
            "Bill",
            "Vendor",
            "WHERE",
            "AND",
            "OR",
            "NOT",
            "IN",
            "LIKE",
            "(",
            ")",
            ",",
            "=",
            "<",
            ">=",
            "Balance",
            "TxnDate",
            "Id",
            "VendorRef",
            "Active",
            "DocNumber",
            "MetaData.LastUpdatedTime",
            "Line.Amount",
            "'0'",
            "'2026-01-05'",
            "'abc'",
            "'%a%'",
            "''",
            "5",
            "-1.5",
            "true",
            "false",
            "ORDER BY",
            "ORDERBY",
            "DESC",
            "STARTPOSITION",
            "MAXRESULTS",
            "2",
            "1001",
            "'2026-07-01T10:00:00Z'",
            "\\'",
            "'",
        ]
    ),
    max_size=16,
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=80), token_soup, token_soup.map(lambda soup: "SELECT * FROM Bill " + soup)))
def test_any_text_either_runs_or_raises_a_qbo_fault(text: str) -> None:
    code = None
    try:
        query = parse_query(text)
        execute(query, BILLS, entity=query.entity, tz=TZ)
        count(query, BILLS, entity=query.entity, tz=TZ)
    except QBOFault as fault:
        code = _code(fault)
    assert code in {None, "4000", "4001"}


ORDERABLE = ["Id", "Balance", "TxnDate", "DueDate", "DocNumber", "VendorRef", "MetaData.LastUpdatedTime", "TotalAmt"]


@st.composite
def tied_bills(draw: st.DrawFn) -> list[dict[str, Any]]:
    bills = []
    for bill_id in range(1, draw(st.integers(0, 30)) + 1):
        extra: dict[str, Any] = {}
        if draw(st.booleans()):
            extra["DocNumber"] = draw(st.sampled_from(["A", "a", "B", ""]))
        if draw(st.booleans()):
            extra["DueDate"] = draw(st.sampled_from(["2026-01-01", "2026-02-01"]))
        bills.append(
            _bill(
                bill_id,
                balance=draw(st.sampled_from(["0", "0.00", "10", "10.0", "25"])),
                txn_date=draw(st.sampled_from(["2026-01-01", "2026-01-02"])),
                vendor=draw(st.sampled_from([None, "1", "2", "10"])),
                updated=draw(
                    st.sampled_from(
                        ["2026-03-08T01:30:00-08:00", "2026-03-08T03:30:00-07:00", "2026-03-08T02:00:00-08:00"]
                    )
                ),
                **extra,
            )
        )
    return bills


@settings(max_examples=100, deadline=None)
@given(
    bills=tied_bills(),
    order=st.lists(st.tuples(st.sampled_from(ORDERABLE), st.sampled_from(["", " DESC", " ASC"])), max_size=3),
    where=st.sampled_from(["", "WHERE Balance > '0'", "WHERE TxnDate = '2026-01-01'", "WHERE DueDate = ''"]),
    page_size=st.integers(1, 7),
)
def test_paging_by_rows_received_walks_the_unpaged_result(
    bills: list[dict[str, Any]], order: list[tuple[str, str]], where: str, page_size: int
) -> None:
    order_by = f"ORDER BY {', '.join(field + direction for field, direction in order)}" if order else ""
    query = parse_query(f"SELECT * FROM Bill {where} {order_by} MAXRESULTS 1000")
    everything = execute(query, bills, entity="Bill", tz=TZ)
    walked: list[dict[str, Any]] = []
    start = 1
    for _ in range(len(bills) + 2):
        page = execute(
            dataclasses.replace(query, start_position=start, max_results=page_size), bills, entity="Bill", tz=TZ
        )
        walked += page
        if len(page) < page_size:
            break
        start += len(page)
    assert [row["Id"] for row in walked] == [row["Id"] for row in everything]
    assert len({row["Id"] for row in everything}) == len(everything) == count(query, bills, entity="Bill", tz=TZ)
