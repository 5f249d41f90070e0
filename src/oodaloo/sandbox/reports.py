"""Reports the sandbox serves (AgedPayables, AgedReceivables in QBO's Header/Columns/Rows shape) and invoice PDFs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from .faults import QBOFault, unsupported, validation
from .rules.common import ZERO
from .rules.realm import Obj, Realm, meta_time


@dataclass(frozen=True)
class _Aging:
    """Which side of the books an aging report reads."""

    name: str
    document: str  # Bill | Invoice
    party: str  # Vendor | Customer
    party_field: str  # VendorRef | CustomerRef
    payment: str  # BillPayment | Payment
    party_param: str  # vendor | customer
    credit: str  # VendorCredit | CreditMemo: unused credit shows as a negative amount, aged from its date


AGING = {
    "agedpayables": _Aging("AgedPayables", "Bill", "Vendor", "VendorRef", "BillPayment", "vendor", "VendorCredit"),
    "agedreceivables": _Aging(
        "AgedReceivables", "Invoice", "Customer", "CustomerRef", "Payment", "customer", "CreditMemo"
    ),
}


def _param_fault(name: str, value: str) -> QBOFault:
    return validation(2010, "Request has invalid or unsupported property", f"Invalid value {value!r} for {name}", name)


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    value = params.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise _param_fault(name, value)
    return int(value)


def _date_param(params: dict[str, str], name: str, default: date) -> date:
    value = params.get(name, "").strip()
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _param_fault(name, value) from None


def build_report(realm: Realm, name: str, params: dict[str, str], now: datetime) -> Obj:
    """A report by name (case-insensitive); unknown names are refused like QBO's unsupported operations."""
    aging = AGING.get(name.lower())
    if aging is None:
        raise unsupported(f"report {name}")
    return _aging_report(realm, aging, params, now)


def _open_as_of(realm: Realm, aging: _Aging, entity: str, doc: Obj, as_of: date) -> Decimal:
    """A document's (or credit's) open balance on ``as_of``: its total less what payments dated on or before that
    day applied to it."""
    paid = ZERO
    for link in doc.get("LinkedTxn", []):
        payment = realm.get(aging.payment, link["TxnId"])
        if payment is None or date.fromisoformat(payment["TxnDate"]) > as_of:
            continue
        for line in payment["Line"]:
            target = line["LinkedTxn"][0]
            if target["TxnId"] == doc["Id"] and target["TxnType"] == entity:
                paid += line["Amount"]
    balance: Decimal = doc["TotalAmt"] - paid
    return balance


def _bucket_titles(period: int, count: int) -> list[str]:
    titles = ["Current"]
    titles += [f"{(i - 1) * period + 1} - {i * period}" for i in range(1, count)]
    titles.append(f"{(count - 1) * period + 1} and over")
    return titles


def _bucket(days_past_due: int, period: int, count: int) -> int:
    if days_past_due <= 0:
        return 0
    return min((days_past_due - 1) // period + 1, count)


def _money(value: Decimal) -> str:
    return f"{value:.2f}" if value else ""


def _aging_report(realm: Realm, aging: _Aging, params: dict[str, str], now: datetime) -> Obj:
    today = now.astimezone(realm.tz).date()
    report_date = _date_param(params, "report_date", today)
    period = _int_param(params, "aging_period", 30)
    count = _int_param(params, "num_periods", 4)
    method = params.get("aging_method", "Report_Date")
    if method not in ("Report_Date", "Current"):
        raise _param_fault("aging_method", method)
    aged_on = report_date if method == "Report_Date" else today
    past_due_text = params.get("past_due", "").strip() or "0"
    if not past_due_text.isdigit():
        raise _param_fault("past_due", past_due_text)
    past_due = int(past_due_text)
    only = {p.strip() for p in params.get(aging.party_param, "").split(",") if p.strip()}

    buckets: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * (count + 1))
    for entity, sign in ((aging.document, 1), (aging.credit, -1)):
        for doc in realm.tables[entity].values():
            party_id = doc[aging.party_field]["value"]
            if (only and party_id not in only) or date.fromisoformat(doc["TxnDate"]) > report_date:
                continue
            balance = sign * _open_as_of(realm, aging, entity, doc, report_date)
            days = (aged_on - date.fromisoformat(doc.get("DueDate") or doc["TxnDate"])).days
            if balance == 0 or (past_due and days < past_due):
                continue
            buckets[party_id][_bucket(days, period, count)] += balance

    titles = _bucket_titles(period, count)
    rows: list[Obj] = []
    totals = [ZERO] * (count + 1)
    parties = sorted(buckets, key=lambda pid: _party_name(realm, aging.party, pid).lower())
    for party_id in parties:
        amounts = buckets[party_id]
        totals = [t + a for t, a in zip(totals, amounts, strict=True)]
        cells = [{"value": _party_name(realm, aging.party, party_id), "id": party_id}]
        cells += [{"value": _money(a)} for a in amounts] + [{"value": f"{sum(amounts, ZERO):.2f}"}]
        rows.append({"type": "Data", "ColData": cells})
    if rows:
        summary = [{"value": "TOTAL"}] + [{"value": _money(t)} for t in totals]
        summary.append({"value": f"{sum(totals, ZERO):.2f}"})
        rows.append({"type": "Section", "group": "GrandTotal", "Summary": {"ColData": summary}})

    columns = [{"ColTitle": "", "ColType": aging.party, "MetaData": [{"Name": "ColKey", "Value": aging.party_param}]}]
    keys = ["current"] + [str(i) for i in range(count)]
    columns += [
        {"ColTitle": title, "ColType": "Money", "MetaData": [{"Name": "ColKey", "Value": key}]}
        for title, key in zip(titles, keys, strict=True)
    ]
    columns.append({"ColTitle": "Total", "ColType": "Money", "MetaData": [{"Name": "ColKey", "Value": "total"}]})
    header = {
        "Time": meta_time(now, realm.tz),
        "ReportName": aging.name,
        "DateMacro": "today" if report_date == today else "",
        "StartPeriod": report_date.isoformat(),
        "EndPeriod": report_date.isoformat(),
        "SummarizeColumnsBy": "Total",
        "Currency": "USD",
        "Option": [
            {"Name": "report_date", "Value": report_date.isoformat()},
            {"Name": "NoReportData", "Value": "false" if rows else "true"},
        ],
    }
    return {"Header": header, "Columns": {"Column": columns}, "Rows": {"Row": rows} if rows else {}}


def _party_name(realm: Realm, entity: str, party_id: str) -> str:
    party = realm.get(entity, party_id)
    return str(party["DisplayName"]) if party else party_id


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def invoice_pdf(invoice: Obj) -> bytes:
    """A one-page PDF naming the invoice, customer, dates and amounts (hand-built; enough for any PDF reader)."""
    lines = [
        f"Invoice {invoice.get('DocNumber', invoice['Id'])}",
        f"Customer: {invoice['CustomerRef'].get('name', invoice['CustomerRef']['value'])}",
        f"Date: {invoice['TxnDate']}    Due: {invoice.get('DueDate', invoice['TxnDate'])}",
        f"Total: {invoice['TotalAmt']:.2f} USD",
        f"Balance due: {invoice['Balance']:.2f} USD",
    ]
    text_ops = ["BT", "/F1 14 Tf", "72 720 Td", "18 TL"]
    text_ops += [f"({_pdf_text(line)}) Tj T*" for line in lines]
    text_ops.append("ET")
    content = "\n".join(text_ops).encode("latin-1", errors="replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)
