"""QBO's SQL-like query language for the sandbox: ``parse_query`` (a lark LALR parser) turns text into a
``Query``; ``execute`` and ``count`` filter, order and page the stored QBO-shaped objects with it."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Final

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import faults
from .faults import QBOFault

QueryValue = str | bool | Decimal


@dataclass(frozen=True)
class Condition:
    """One ``<path> <op> <value(s)>`` term of a WHERE clause, with literals as written."""

    path: tuple[str, ...]
    op: str
    values: tuple[QueryValue, ...]


@dataclass(frozen=True)
class Query:
    """A parsed query. ``fields`` is ``None`` for ``SELECT *``; projections are tolerated, not applied."""

    entity: str
    count: bool
    fields: tuple[str, ...] | None
    where: tuple[Condition, ...]
    order_by: tuple[tuple[tuple[str, ...], bool], ...]
    start_position: int = 1
    max_results: int = 100


DEFAULT_MAX_RESULTS: Final = 100
MAX_RESULTS_LIMIT: Final = 1000
# QBO is a Java service: a start position beyond a signed 32-bit int is refused rather than overflowed.
MAX_START_POSITION: Final = 2**31 - 1

ENTITIES: tuple[str, ...] = (
    "CompanyInfo",
    "Preferences",
    "Account",
    "Vendor",
    "Customer",
    "Term",
    "Item",
    "PaymentMethod",
    "TaxCode",
    "TaxRate",
    "Bill",
    "BillPayment",
    "Invoice",
    "Payment",
    "Purchase",
    "Deposit",
    "VendorCredit",
    "CreditMemo",
    "SalesReceipt",
    "Transfer",
    "JournalEntry",
)
NAME_LIST_ENTITIES: Final = frozenset(
    {"Account", "Customer", "Vendor", "Item", "Term", "PaymentMethod", "TaxCode", "TaxRate"}
)
_ENTITY_BY_LOWER: Final = {name.lower(): name for name in ENTITIES}


def canonical_entity(name: str) -> str | None:
    """The canonical PascalCase entity name for ``name`` in any case, or ``None`` if unknown."""
    return _ENTITY_BY_LOWER.get(name.lower())


# ---------------------------------------------------------------------------------------------------------------
# Parsing

# Keywords are regexes with a word boundary and a higher priority than NAME, so that ``FROMBill`` is not
# ``FROM Bill`` and ``COUNT`` wins over a field called ``Count`` where both could appear.
_GRAMMAR: Final = r"""
    query: _SELECT projection _FROM NAME where_clause? order_clause? paging

    projection: _COUNT "(" STAR ")"             -> select_count
              | select_item ("," select_item)*  -> select_fields
    select_item: STAR | path

    path: NAME ("." NAME)*

    // OR and NOT are recognised only to be refused with a clear message.
    where_clause: _WHERE condition ((_AND | OR) condition)*
    condition: path COMPARE value                    -> compare
             | path _IN "(" value ("," value)* ")"   -> in_list
             | path _LIKE value                      -> like
             | NOT condition                         -> negated
    value: STRING | NUMBER | TRUE | FALSE

    order_clause: _ORDERBY order_key ("," order_key)*
    order_key: path DIRECTION?

    paging: start_position? max_results?
          | max_results start_position
    start_position: _STARTPOSITION INT
    max_results: _MAXRESULTS INT

    _SELECT.2: /select\b/i
    _FROM.2: /from\b/i
    _WHERE.2: /where\b/i
    _AND.2: /and\b/i
    OR.2: /or\b/i
    NOT.2: /not\b/i
    _IN.2: /in\b/i
    _LIKE.2: /like\b/i
    _COUNT.2: /count\b/i
    _ORDERBY.2: /order\s*by\b/i
    DIRECTION.2: /(asc|desc)\b/i
    _STARTPOSITION.2: /startposition\b/i
    _MAXRESULTS.2: /maxresults\b/i
    TRUE.2: /true\b/i
    FALSE.2: /false\b/i

    STAR: "*"
    COMPARE: "<=" | ">=" | "!=" | "=" | "<" | ">"
    NAME: /[A-Za-z_][A-Za-z0-9_]*/
    STRING: /'(?:[^'\\]|\\[\s\S])*'/
    NUMBER: /[+-]?(?:\d+(?:\.\d*)?|\.\d+)/
    INT: /[+-]?\d+/

    %import common.WS
    %ignore WS
"""

_PARSER: Final = Lark(_GRAMMAR, start="query", parser="lalr")
_ESCAPE: Final = re.compile(r"\\([\\'])")
_TERMINAL_TEXT: Final = {
    "STAR": "*",
    "COMMA": ",",
    "DOT": ".",
    "LPAR": "(",
    "RPAR": ")",
    "$END": "<EOF>",
    "COMPARE": "<operator>",
    "STRING": "<string>",
    "NUMBER": "<number>",
    "INT": "<integer>",
}


def parse_query(text: str) -> Query:
    """Parse QBO query text; raises ``QBOFault`` 4000 for syntax errors and 4001 for invalid values."""
    if not text.strip():
        raise faults.query_parse_error("The query provided was empty")
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise faults.query_parse_error(_describe_parse_error(exc)) from None
    except LarkError as exc:
        raise faults.query_parse_error(str(exc)) from None
    return _build_query(tree)


def _describe_parse_error(exc: UnexpectedInput) -> str:
    where = f"at line {exc.line}, column {exc.column}"
    if isinstance(exc, UnexpectedCharacters):
        return f'Invalid content. Lexical error {where}. Encountered: "{exc.char}"'
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            return f'Encountered "<EOF>" {where}. Was expecting one of: {_expected_text(exc.expected)}'
        return (
            f'Encountered " {token.type.lstrip("_")} "{_shown(token.value)}" " {where}.'
            f" Was expecting one of: {_expected_text(exc.expected)}"
        )
    return f"Unexpected input {where}."


def _expected_text(expected: Iterable[str]) -> str:
    names = sorted({_TERMINAL_TEXT.get(name, name.lstrip("_")) for name in expected})
    return ", ".join(f'"{name}"' for name in names)


def _build_query(tree: Tree[Token]) -> Query:
    entity_token, *clauses = tree.children[1:]
    entity = str(entity_token)
    if canonical_entity(entity) is None:
        raise faults.query_validation_error(f"{entity} is not a valid entity")
    where: tuple[Condition, ...] = ()
    order_by: tuple[tuple[tuple[str, ...], bool], ...] = ()
    start_position, max_results = 1, DEFAULT_MAX_RESULTS
    for clause in clauses:
        assert isinstance(clause, Tree)
        if clause.data == "where_clause":
            _refuse_or_not(clause)
            where = tuple(_condition(child) for child in _subtrees(clause))
        elif clause.data == "order_clause":
            order_by = tuple(_order_key(child) for child in _subtrees(clause))
        else:
            for bound in _subtrees(clause):
                if bound.data == "start_position":
                    start_position = _paging_value(bound, limit=MAX_START_POSITION)
                else:
                    max_results = _paging_value(bound, limit=MAX_RESULTS_LIMIT)
    projection = tree.children[0]
    assert isinstance(projection, Tree)
    return Query(
        entity=entity,
        count=projection.data == "select_count",
        fields=_fields(projection),
        where=where,
        order_by=order_by,
        start_position=start_position,
        max_results=max_results,
    )


def _refuse_or_not(where_clause: Tree[Token]) -> None:
    refused = list(where_clause.scan_values(lambda value: isinstance(value, Token) and value.type in {"OR", "NOT"}))
    if refused:
        token = min(refused, key=lambda found: found.start_pos or 0)
        raise faults.query_parse_error(
            f'Encountered " {token.type} "{token.value}" " at line {token.line}, column {token.column}.'
            " Only AND may combine conditions; OR and NOT are not supported."
        )


def _shown(text: str, limit: int = 40) -> str:
    """``text`` cut short for an error message."""
    return text if len(text) <= limit else f"{text[:limit]}..."


def _subtrees(tree: Tree[Token]) -> list[Tree[Token]]:
    return [child for child in tree.children if isinstance(child, Tree)]


def _fields(projection: Tree[Token]) -> tuple[str, ...] | None:
    if projection.data == "select_count":
        return None
    names = tuple(_item_name(item) for item in _subtrees(projection))
    return None if names == ("*",) else names


def _item_name(item: Tree[Token]) -> str:
    child = item.children[0]
    return ".".join(_path(child)) if isinstance(child, Tree) else str(child)


def _path(tree: Tree[Token]) -> tuple[str, ...]:
    return tuple(str(token) for token in tree.children)


def _condition(tree: Tree[Token]) -> Condition:
    path_tree, *rest = tree.children
    assert isinstance(path_tree, Tree)
    path = _path(path_tree)
    if tree.data == "compare":
        op_token, value_tree = rest
        assert isinstance(value_tree, Tree)
        return Condition(path, str(op_token), (_literal(value_tree),))
    values = tuple(_literal(child) for child in rest if isinstance(child, Tree))
    return Condition(path, "IN" if tree.data == "in_list" else "LIKE", values)


def _literal(value_tree: Tree[Token]) -> QueryValue:
    token = value_tree.children[0]
    assert isinstance(token, Token)
    if token.type == "STRING":
        return _ESCAPE.sub(r"\1", token.value[1:-1])
    if token.type == "NUMBER":
        return Decimal(token.value)
    return token.type == "TRUE"


def _order_key(tree: Tree[Token]) -> tuple[tuple[str, ...], bool]:
    path_tree, *direction = tree.children
    assert isinstance(path_tree, Tree)
    descending = bool(direction) and str(direction[0]).upper() == "DESC"
    return _path(path_tree), descending


def _paging_value(tree: Tree[Token], *, limit: int) -> int:
    text = str(tree.children[-1])
    negative = text.startswith("-")
    digits = text.lstrip("+-").lstrip("0") or "0"
    # Compare lengths first: int() refuses strings of thousands of digits.
    too_large = len(digits) > len(str(limit)) or int(digits) > limit
    if too_large and not negative:
        raise faults.query_validation_error(f"value {_shown(text)} is too large. Max allowed value is {limit}")
    if negative or digits == "0":
        raise faults.query_validation_error(f"value {_shown(text)} is too small. Min allowed value is 1")
    return int(digits)


# ---------------------------------------------------------------------------------------------------------------
# Filterable fields


class FieldType(Enum):
    """How a filterable property compares; the value is the type's name in fault details."""

    STRING = "String"
    REF = "Ref"
    BOOLEAN = "Boolean"
    ENUM = "Enum"
    DECIMAL = "Decimal"
    ID = "Id"
    DATE = "Date"
    DATETIME = "DateTime"


_ORDERED_OPS: Final = frozenset({"=", "!=", "<", ">", "<=", ">=", "IN"})
ALLOWED_OPS: Final[dict[FieldType, frozenset[str]]] = {
    FieldType.STRING: _ORDERED_OPS | {"LIKE"},
    FieldType.REF: frozenset({"=", "!=", "IN", "LIKE"}),
    FieldType.BOOLEAN: frozenset({"=", "!=", "IN"}),
    FieldType.ENUM: frozenset({"=", "!=", "IN", "LIKE"}),
    FieldType.DECIMAL: _ORDERED_OPS,
    FieldType.ID: _ORDERED_OPS,
    FieldType.DATE: _ORDERED_OPS,
    FieldType.DATETIME: _ORDERED_OPS,
}


@dataclass(frozen=True)
class FieldSpec:
    """A filterable property: its canonical dotted name, type and where its value sits in a stored object."""

    name: str
    type: FieldType
    keys: tuple[str, ...]


def _spec(name: str, field_type: FieldType, *extra_keys: str) -> FieldSpec:
    keys = (*name.split("."), *extra_keys)
    if field_type is FieldType.REF:
        keys = (*keys, "value")
    return FieldSpec(name, field_type, keys)


_COMMON: Final = (
    _spec("Id", FieldType.ID),
    _spec("MetaData.CreateTime", FieldType.DATETIME),
    _spec("MetaData.LastUpdatedTime", FieldType.DATETIME),
)
_TRANSACTION: Final = (
    *_COMMON,
    _spec("DocNumber", FieldType.STRING),
    _spec("TxnDate", FieldType.DATE),
    _spec("TotalAmt", FieldType.DECIMAL),
)
_PERSON: Final = (
    *_COMMON,
    _spec("DisplayName", FieldType.STRING),
    _spec("CompanyName", FieldType.STRING),
    _spec("GivenName", FieldType.STRING),
    _spec("FamilyName", FieldType.STRING),
    _spec("PrimaryEmailAddr", FieldType.STRING, "Address"),
    _spec("Balance", FieldType.DECIMAL),
    _spec("Active", FieldType.BOOLEAN),
)
_NAMED: Final = (
    *_COMMON,
    _spec("Name", FieldType.STRING),
    _spec("FullyQualifiedName", FieldType.STRING),
    _spec("Active", FieldType.BOOLEAN),
)

FILTERABLE: Final[dict[str, tuple[FieldSpec, ...]]] = {
    "CompanyInfo": (*_COMMON, _spec("CompanyName", FieldType.STRING)),
    "Preferences": _COMMON,
    "Account": (
        *_NAMED,
        _spec("AccountType", FieldType.ENUM),
        _spec("AccountSubType", FieldType.ENUM),
        _spec("Classification", FieldType.ENUM),
        _spec("CurrentBalance", FieldType.DECIMAL),
    ),
    "Vendor": (*_PERSON, _spec("APAccountRef", FieldType.REF)),
    "Customer": _PERSON,
    "Term": (*_NAMED, _spec("Type", FieldType.ENUM)),
    "Item": (*_NAMED, _spec("Type", FieldType.ENUM), _spec("Sku", FieldType.STRING)),
    "PaymentMethod": (*_NAMED, _spec("Type", FieldType.ENUM)),
    "TaxCode": (*_NAMED, _spec("Description", FieldType.STRING)),
    "TaxRate": (*_NAMED, _spec("Description", FieldType.STRING)),
    "Bill": (
        *_TRANSACTION,
        _spec("DueDate", FieldType.DATE),
        _spec("Balance", FieldType.DECIMAL),
        _spec("VendorRef", FieldType.REF),
        _spec("APAccountRef", FieldType.REF),
    ),
    "BillPayment": (
        *_TRANSACTION,
        _spec("VendorRef", FieldType.REF),
        _spec("APAccountRef", FieldType.REF),
        _spec("PayType", FieldType.ENUM),
    ),
    "Invoice": (
        *_TRANSACTION,
        _spec("DueDate", FieldType.DATE),
        _spec("Balance", FieldType.DECIMAL),
        _spec("CustomerRef", FieldType.REF),
        _spec("EmailStatus", FieldType.ENUM),
    ),
    "Payment": (*_TRANSACTION, _spec("CustomerRef", FieldType.REF), _spec("DepositToAccountRef", FieldType.REF)),
    "Purchase": (*_TRANSACTION, _spec("PaymentType", FieldType.ENUM)),
    "Deposit": (*_TRANSACTION, _spec("DepositToAccountRef", FieldType.REF)),
    "VendorCredit": (
        *_TRANSACTION,
        _spec("Balance", FieldType.DECIMAL),
        _spec("VendorRef", FieldType.REF),
        _spec("APAccountRef", FieldType.REF),
    ),
    "CreditMemo": (
        *_TRANSACTION,
        _spec("Balance", FieldType.DECIMAL),
        _spec("RemainingCredit", FieldType.DECIMAL),
        _spec("CustomerRef", FieldType.REF),
    ),
    "SalesReceipt": (*_TRANSACTION, _spec("CustomerRef", FieldType.REF), _spec("DepositToAccountRef", FieldType.REF)),
    "Transfer": (
        *_COMMON,
        _spec("TxnDate", FieldType.DATE),
        _spec("Amount", FieldType.DECIMAL),
        _spec("FromAccountRef", FieldType.REF),
        _spec("ToAccountRef", FieldType.REF),
    ),
    "JournalEntry": (*_TRANSACTION, _spec("Adjustment", FieldType.BOOLEAN)),
}
_FIELDS_BY_LOWER: Final = {entity: {spec.name.lower(): spec for spec in specs} for entity, specs in FILTERABLE.items()}


def _resolve_field(entity: str, path: tuple[str, ...]) -> FieldSpec:
    name = ".".join(path)
    spec = _FIELDS_BY_LOWER[entity].get(name.lower())
    if spec is None:
        raise faults.query_validation_error(f"property '{name}' is not queryable for entity {entity}")
    return spec


# ---------------------------------------------------------------------------------------------------------------
# Evaluation

Row = dict[str, Any]
Predicate = Callable[[Row], bool]
# Reads a field of a stored object as a comparable value, ``None`` when missing, empty or unusable.
Reader = Callable[[Row], Any]
_COMPARATORS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


@dataclass(frozen=True)
class _Plan:
    predicates: tuple[Predicate, ...]
    order: tuple[tuple[Reader, bool], ...]


def execute(query: Query, objects: Sequence[Row], *, entity: str, tz: tzinfo) -> list[Row]:
    """The page of ``objects`` that ``query`` selects: filtered, ordered (ties by numeric Id) and paged.

    ``objects`` are the stored dicts in ascending numeric Id order; the returned list holds the same dicts.
    """
    plan = _plan(query, _entity(entity), tz)
    # Objects arrive in ascending Id order (``Realm.ordered``) and filtering keeps it, so ties are already broken by
    # Id: no key is read for the rows here (a page of a 20,000-object listing would read 20,000).
    rows = _filter(plan, objects)
    for read, descending in reversed(plan.order):
        # Successive stable sorts from the least significant key keep ties in ascending Id order.
        rows = _sorted_by(rows, read, descending)
    start = query.start_position - 1
    return rows[start : start + query.max_results]


def count(query: Query, objects: Sequence[Row], *, entity: str, tz: tzinfo) -> int:
    """How many of ``objects`` match the query's WHERE clause (paging does not apply to ``COUNT(*)``)."""
    return len(_filter(_plan(query, _entity(entity), tz), objects))


def _entity(name: str) -> str:
    entity = canonical_entity(name)
    if entity is None:
        raise faults.query_validation_error(f"{name} is not a valid entity")
    return entity


def _filter(plan: _Plan, objects: Sequence[Row]) -> list[Row]:
    rows = list(objects)
    for predicate in plan.predicates:
        rows = [row for row in rows if predicate(row)]
    return rows


def _sorted_by(rows: list[Row], read: Reader, descending: bool) -> list[Row]:
    """A stable sort on one field in which missing values count as the lowest."""
    present: list[tuple[Any, Row]] = []
    missing: list[Row] = []
    for row in rows:
        value = read(row)
        if value is None:
            missing.append(row)
        else:
            present.append((value, row))
    present.sort(key=operator.itemgetter(0), reverse=descending)
    ordered = [row for _, row in present]
    return ordered + missing if descending else missing + ordered


def _plan(query: Query, entity: str, tz: tzinfo) -> _Plan:
    resolved = [(_resolve_field(entity, cond.path), cond) for cond in query.where]
    predicates = [_predicate(spec, cond, tz) for spec, cond in resolved]
    filters_active = any(spec.name == "Active" for spec, _ in resolved)
    if entity in NAME_LIST_ENTITIES and not filters_active:
        predicates.insert(0, _is_active)
    return _Plan(tuple(predicates), _order(entity, query.order_by, tz))


def _order(
    entity: str, order_by: Sequence[tuple[tuple[str, ...], bool]], tz: tzinfo
) -> tuple[tuple[Reader, bool], ...]:
    """The sorts a page needs, most significant first. Ids are unique, so keys after an Id key never decide; and
    rows are put in ascending Id order before sorting, so an ascending Id key needs no sort of its own (a full
    listing ``ORDERBY Id``, page after page, is then not sorted at all)."""
    specs = [(_resolve_field(entity, path), descending) for path, descending in order_by]  # each key is checked
    order: list[tuple[Reader, bool]] = []
    for spec, descending in specs:
        if spec.name == "Id":
            if descending:
                order.append((_order_reader(spec, tz), descending))
            break
        order.append((_order_reader(spec, tz), descending))
    return tuple(order)


def _is_active(row: Row) -> bool:
    return row.get("Active") is not False


def _getter(keys: tuple[str, ...]) -> Callable[[Row], Any]:
    """The raw value at ``keys`` (a path through nested dicts), ``None`` when any step is missing."""
    if len(keys) == 1:
        (key,) = keys
        return lambda row: row.get(key)
    if len(keys) == 2:
        outer, inner = keys

        def get_nested(row: Row) -> Any:
            value = row.get(outer)
            return value.get(inner) if isinstance(value, dict) else None

        return get_nested

    def get(row: Row) -> Any:
        value: Any = row
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get


def _reader(spec: FieldSpec, tz: tzinfo) -> Reader:
    get, convert = _getter(spec.keys), _stored_converter(spec.type, tz)

    def read(row: Row) -> Any:
        raw = get(row)
        return None if raw is None or raw == "" else convert(raw)

    return read


# --- Literals and stored values, per field type -----------------------------------------------------------------


def _bad_literal(spec: FieldSpec, literal: QueryValue, reason: str = "") -> QBOFault:
    shown = f"'{_shown(literal)}'" if isinstance(literal, str) else str(literal).lower()
    suffix = f": {reason}" if reason else ""
    return faults.query_validation_error(
        f"value {shown} is not a valid {spec.type.value} for property {spec.name}{suffix}"
    )


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _instant(text: str, tz: tzinfo) -> int | None:
    """A timestamp or bare date as microseconds since the epoch; no offset means the company's timezone."""
    micros = _offset_instant(text)
    if micros is not None:
        return micros
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=tz)
    return (stamp - _EPOCH) // _MICROSECOND


@functools.lru_cache(maxsize=1 << 16)
def _offset_instant(text: str) -> int | None:
    """Microseconds since the epoch of a timestamp that carries its UTC offset, else ``None``.

    Cached: the same stored timestamps are compared again on every page of a paged query.
    """
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if stamp.tzinfo is None else (stamp - _EPOCH) // _MICROSECOND


def _literal_value(spec: FieldSpec, literal: QueryValue, tz: tzinfo) -> Any:
    """The query literal in the same domain as ``_stored_converter`` values; raises 4001 if it does not fit."""
    value: Any = None
    match spec.type:
        case FieldType.STRING | FieldType.REF | FieldType.ENUM:
            value = None if isinstance(literal, bool) else str(literal).casefold()
        case FieldType.BOOLEAN:
            value = literal if isinstance(literal, bool) else _BOOLEAN_TEXT.get(str(literal).lower())
        case FieldType.DECIMAL | FieldType.ID:
            if not isinstance(literal, bool):
                value = literal if isinstance(literal, Decimal) else _decimal(literal)
        case FieldType.DATE:
            value = _iso_date(literal) if isinstance(literal, str) else None
        case FieldType.DATETIME:
            value = _instant(literal, tz) if isinstance(literal, str) else None
    if value is None:
        raise _bad_literal(spec, literal)
    return value


_BOOLEAN_TEXT: Final = {"true": True, "false": False}


def _iso_date(text: str) -> str | None:
    try:
        # Stored dates are all "YYYY-MM-DD", so ISO text orders exactly like the dates themselves.
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def _stored_converter(field_type: FieldType, tz: tzinfo) -> Callable[[Any], Any]:
    """Maps a stored value (neither ``None`` nor ``""``) to a comparable one, ``None`` when unusable."""
    if field_type is FieldType.DATETIME:
        # Offsets differ across DST, so stored timestamps are compared as instants, never as text.

        def convert(value: Any) -> int | None:
            if not isinstance(value, str):
                return None
            micros = _offset_instant(value)
            return micros if micros is not None else _instant(value, tz)

        return convert
    return _STORED_CONVERTERS[field_type]


def _stored_text(value: Any) -> str | None:
    return value.casefold() if isinstance(value, str) else None


def _stored_boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _stored_decimal(value: Any) -> Decimal | int | None:
    if type(value) is Decimal or type(value) is int:
        return value
    return _decimal(value) if isinstance(value, str) else None


def _stored_id(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _stored_date(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_STORED_CONVERTERS: Final[dict[FieldType, Callable[[Any], Any]]] = {
    FieldType.STRING: _stored_text,
    FieldType.REF: _stored_text,
    FieldType.ENUM: _stored_text,
    FieldType.BOOLEAN: _stored_boolean,
    FieldType.DECIMAL: _stored_decimal,
    FieldType.ID: _stored_id,
    FieldType.DATE: _stored_date,
}


# --- Predicates ------------------------------------------------------------------------------------------------


def _predicate(spec: FieldSpec, cond: Condition, tz: tzinfo) -> Predicate:
    if cond.op not in ALLOWED_OPS[spec.type]:
        raise faults.query_validation_error(
            f"operator {cond.op} is not supported for property {spec.name} of type {spec.type.value}"
        )
    if cond.op == "LIKE":
        return _like_predicate(spec, cond)
    if cond.op in {"=", "IN"}:
        return _membership_predicate(spec, cond, tz)
    if cond.op == "!=":
        return _inequality_predicate(spec, cond, tz)
    return _comparison_predicate(spec, cond, tz)


def _membership_predicate(spec: FieldSpec, cond: Condition, tz: tzinfo) -> Predicate:
    get, convert = _getter(spec.keys), _stored_converter(spec.type, tz)
    # '' stands for "no value": it matches missing and empty fields, whatever the type.
    matches_empty = "" in cond.values
    wanted = frozenset(_literal_value(spec, value, tz) for value in cond.values if value != "")

    def predicate(row: Row) -> bool:
        raw = get(row)
        if raw is None or raw == "":
            return matches_empty
        return convert(raw) in wanted

    return predicate


def _inequality_predicate(spec: FieldSpec, cond: Condition, tz: tzinfo) -> Predicate:
    """``!=``: a value that differs from the literal; like ``<`` and ``>``, a missing value never matches.

    ``!= ''`` therefore matches every record that has a value, the complement of ``= ''``.
    """
    get, convert = _getter(spec.keys), _stored_converter(spec.type, tz)
    literal = cond.values[0]
    unwanted = None if literal == "" else _literal_value(spec, literal, tz)

    def predicate(row: Row) -> bool:
        raw = get(row)
        if raw is None or raw == "":
            return False
        return unwanted is None or convert(raw) != unwanted

    return predicate


def _comparison_predicate(spec: FieldSpec, cond: Condition, tz: tzinfo) -> Predicate:
    get, convert = _getter(spec.keys), _stored_converter(spec.type, tz)
    compare, bound = _COMPARATORS[cond.op], _literal_value(spec, cond.values[0], tz)

    def predicate(row: Row) -> bool:
        raw = get(row)
        if raw is None or raw == "":
            return False
        value = convert(raw)
        return value is not None and compare(value, bound)

    return predicate


def _like_predicate(spec: FieldSpec, cond: Condition) -> Predicate:
    pattern = cond.values[0]
    if not isinstance(pattern, str):
        raise _bad_literal(spec, pattern, "LIKE needs a quoted pattern")
    # '%' is QBO's only wildcard; everything else, '_' included, matches itself.
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("%")), re.IGNORECASE | re.DOTALL)
    get = _getter(spec.keys)

    def predicate(row: Row) -> bool:
        raw = get(row)
        return isinstance(raw, str) and regex.fullmatch(raw) is not None

    return predicate


# --- Ordering --------------------------------------------------------------------------------------------------


def _order_reader(spec: FieldSpec, tz: tzinfo) -> Reader:
    read = _reader(spec, tz)
    if spec.type is not FieldType.REF:
        return read

    def read_ref(row: Row) -> Any:
        value = read(row)
        if value is None:
            return None
        # Ref values are ids: "9" orders before "10" (shorter digit strings are smaller numbers).
        return (0, len(value), value) if value.isdigit() else (1, 0, value)

    return read_ref
