"""The demo's spending: payroll journal entries, tax payments, vendor bills and payments, card purchases, payoffs."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .book import Body, Book
from .dates import add_months, business_day_not_after, month_starts, next_business_day, on_day, previous_business_day
from .model import ZERO, Draft, between, money
from .scenarios import Profile
from .setup import Lists, VendorPlan
from .writer import Writer

# Shares of monthly costs (the rest is payroll).
RENT = Decimal("0.075")
BILLED_SOFTWARE = Decimal("0.020")
CARD_SOFTWARE = Decimal("0.012")
CONTRACTORS = Decimal("0.085")
HEALTH_INSURANCE = Decimal("0.040")
LIABILITY_INSURANCE = Decimal("0.012")
UTILITIES = Decimal("0.008")
ACCOUNTANT = Decimal("0.010")
LAWYER = Decimal("0.006")
CARD_MISC = Decimal("0.025")
ESTIMATED_TAX = Decimal("0.018")
_OTHER_COSTS = (RENT, BILLED_SOFTWARE, CARD_SOFTWARE, CONTRACTORS, HEALTH_INSURANCE, LIABILITY_INSURANCE)
PAYROLL = 1 - sum(_OTHER_COSTS) - UTILITIES - ACCOUNTANT - LAWYER - CARD_MISC - ESTIMATED_TAX
EMPLOYER_TAX_RATE = (0.075, 0.085)
UNCATEGORIZED = 4
# Vendors a squeezed firm pays late; rent, payroll, taxes and insurance are always paid on time.
STRETCHABLE = {"contractor", "utility", "professional", "billed_software", "office"}
MISC_CARD_PER_MONTH = 9

# Card categories: (vendor role, expense account, description samples, relative amount, relative frequency)
_CARD_CATEGORIES = (
    ("travel", "Travel", ("Client visit airfare", "Hotel, client on-site", "Rideshare to client"), 3.0, 3),
    ("meals", "Meals", ("Client lunch", "Team coffee", "Working dinner"), 0.6, 5),
    ("office", "Office Supplies", ("Printer paper and toner", "Office supplies", "Shipping supplies"), 1.0, 2),
)
# One entry per unit of frequency, so a category is drawn with a single random number.
_CARD_DRAWS = tuple(category for category in _CARD_CATEGORIES for _ in range(category[4]))


@dataclass(frozen=True)
class BillLine:
    account: str
    description: str
    amount: Decimal


class SpendWriter(Writer):
    def __init__(
        self, book: Book, lists: Lists, *, start: date, today: date, frequency: int, monthly_costs: Decimal
    ) -> None:
        super().__init__(book, lists, start=start, today=today, frequency=frequency)
        self.costs = monthly_costs
        self.check_numbers = itertools.count(5001)
        self.card_charges: dict[date, Decimal] = {}
        self.payoffs: dict[date, Draft] = {}
        self.months = len(list(month_starts(start, today)))

    def write_core(self, profile: Profile) -> None:
        """Everything but the travel, meals and office purchases on the card (the volume knob)."""
        self._payroll()
        self._estimated_taxes()
        self._bills(profile)
        self._card_software()
        self._uncategorized()
        self._card_payoffs()

    def natural_card_purchases(self) -> int:
        return MISC_CARD_PER_MONTH * self.frequency * self.months

    # -- payroll and taxes ----------------------------------------------------------------------

    def _payroll(self) -> None:
        gross_per_run = self.costs * PAYROLL * 12 / 26 / Decimal("1.08")
        payday = self.start + timedelta(days=(4 - self.start.weekday()) % 7 + self.rng.choice((0, 7)))
        while payday <= self.today:
            gross = money(gross_per_run * Decimal(str(self.rng.uniform(0.985, 1.015))))
            taxes = money(gross * Decimal(str(self.rng.uniform(*EMPLOYER_TAX_RATE))))
            self._payroll_entry(payday, gross, taxes)
            payday += timedelta(days=14)

    def _payroll_entry(self, payday: date, gross: Decimal, taxes: Decimal) -> Draft:
        """The payroll provider posts each run to QBO as a journal entry: wages and employer taxes out of Checking."""
        accounts = self.lists.accounts
        provider = self.lists.vendor("payroll").name
        total = gross + taxes

        def line(posting: str, account: str, amount: Decimal, description: str) -> Body:
            detail = {"PostingType": posting, "AccountRef": accounts[account].ref()}
            return {
                "Amount": amount,
                "DetailType": "JournalEntryLineDetail",
                "Description": description,
                "JournalEntryLineDetail": detail,
            }

        def build() -> Body:
            return {
                "TxnDate": payday.isoformat(),
                "DocNumber": f"PR-{payday:%Y%m%d}",
                "PrivateNote": f"Payroll run (direct deposit), posted by {provider}",
                "Line": [
                    line("Debit", "Payroll Expenses", gross, f"Payroll for period ending {payday:%m/%d/%Y}"),
                    line("Debit", "Payroll Taxes", taxes, "Employer payroll taxes"),
                    line("Credit", "Checking", total, "Net pay, withholdings and employer taxes"),
                ],
            }

        return self.book.add("JournalEntry", payday, build, bank_delta=-total)

    def _estimated_taxes(self) -> None:
        quarterly = self.costs * ESTIMATED_TAX * 3
        irs, state = self.lists.vendors_in("tax")
        for year in range(self.start.year, self.today.year + 1):
            for month, day in ((1, 15), (4, 15), (6, 15), (9, 15)):
                due = next_business_day(date(year, month, day))
                if self.start <= due <= self.today:
                    share = Decimal(str(self.rng.uniform(0.9, 1.1)))
                    irs_amount, state_amount = money(quarterly * share * 3 / 4), money(quarterly * share / 4)
                    note = f"Estimated tax payment {year}-{month:02d}"
                    self._purchase(due, irs, [BillLine("Taxes & Licenses", note, irs_amount)], check=True)
                    self._purchase(due, state, [BillLine("Taxes & Licenses", note, state_amount)], check=True)

    def _purchase(
        self,
        on: date,
        vendor: VendorPlan | None,
        lines: list[BillLine],
        *,
        card: bool = False,
        check: bool = False,
        note: str | None = None,
    ) -> Draft:
        """A Purchase paid from Checking (a check or a debit) or charged to the card."""
        account = self.lists.accounts["Amex Business Card" if card else "Checking"]
        accounts = self.lists.accounts
        total = sum((line.amount for line in lines), ZERO)
        numbers = self.check_numbers

        def build() -> Body:
            body: Body = {
                "PaymentType": "CreditCard" if card else "Check",
                "AccountRef": account.ref(),
                "TxnDate": on.isoformat(),
                "Line": [_expense_line(line, accounts) for line in lines],
            }
            if vendor is not None:
                body["EntityRef"] = {**vendor.draft.ref(), "type": "Vendor"}
            if check:
                body["DocNumber"] = str(next(numbers))
            if note:
                body["PrivateNote"] = note
            return body

        draft = self.book.add("Purchase", on, build, bank_delta=ZERO if card else -total)
        if card:
            self._charge(on, total)
        return draft

    def _charge(self, on: date, amount: Decimal) -> None:
        """Adds to the month's statement, and to its payoff if that is already drafted."""
        month = on.replace(day=1)
        self.card_charges[month] = self.card_charges.get(month, ZERO) + amount
        payoff = self.payoffs.get(month)
        if payoff is not None:
            payoff.bank_delta -= amount

    # -- bills ----------------------------------------------------------------------------------

    def _bills(self, profile: Profile) -> None:
        schedule: list[tuple[date, VendorPlan, list[BillLine]]] = []
        for month in month_starts(self.start, self.today):
            schedule.extend(self._month_of_bills(month))
        schedule.sort(key=lambda entry: entry[0])
        duplicate_of = self._duplicate_candidate(schedule)
        for index, (txn_date, vendor, lines) in enumerate(schedule):
            if self.start <= txn_date <= self.today:
                self._bill(txn_date, vendor, lines, profile, doc_suffix="")
            if index == duplicate_of:
                again = min(self.today, txn_date + timedelta(days=between(self.rng, 1, 3)))
                self._bill(again, vendor, lines, profile, doc_suffix="-A", pay=False)

    def _month_of_bills(self, month: date) -> list[tuple[date, VendorPlan, list[BillLine]]]:
        rng, f = self.rng, self.frequency
        bills: list[tuple[date, VendorPlan, list[BillLine]]] = []
        rent = money(self.costs * RENT)
        bills.append((month, self.lists.vendor("landlord"), [BillLine("Rent", f"Rent {month:%B %Y}", rent)]))
        for index, vendor in enumerate(self.lists.vendors_in("billed_software")):
            base = self.costs * BILLED_SOFTWARE * Decimal(5 - index) / 15
            amount = money(base * Decimal(str(rng.uniform(0.95, 1.05))))
            line = BillLine("Software Subscriptions", f"{vendor.name} subscription", amount)
            bills.append((on_day(month, 3 + index * 4), vendor, [line]))
        contractors = self.lists.vendors_in("contractor")
        for vendor in contractors:
            for part in range(f):
                share = self.costs * CONTRACTORS / len(contractors) / f
                amount = money(share * Decimal(str(rng.uniform(0.6, 1.4))))
                line = BillLine("Contractors", "Subcontracted project work", amount)
                bills.append((on_day(month, 28 - part * (27 // f)), vendor, [line]))
        health, liability = self.lists.vendors_in("insurance")
        premium = money(self.costs * HEALTH_INSURANCE)
        bills.append((on_day(month, 5), health, [BillLine("Insurance", "Group health premium", premium)]))
        if month.month % 3 == 1:
            amount = money(self.costs * LIABILITY_INSURANCE * 3)
            bills.append((on_day(month, 10), liability, [BillLine("Insurance", "Liability insurance", amount)]))
        for index, vendor in enumerate(self.lists.vendors_in("utility")):
            amount = money(self.costs * UTILITIES / 3 * Decimal(str(rng.uniform(0.7, 1.3))))
            bills.append((on_day(month, 12 + index * 3), vendor, [BillLine("Utilities", "Monthly service", amount)]))
        accountant, lawyer = self.lists.vendors_in("professional")
        fee = money(self.costs * ACCOUNTANT)
        bills.append((on_day(month, 20), accountant, [BillLine("Professional Fees", "Bookkeeping and tax", fee)]))
        if rng.random() < 0.35:
            amount = money(self.costs * LAWYER / Decimal("0.35") * Decimal(str(rng.uniform(0.5, 1.5))))
            line = BillLine("Professional Fees", "Contract review", amount)
            bills.append((on_day(month, between(rng, 1, 28)), lawyer, [line]))
        return bills

    def _duplicate_candidate(self, schedule: list[tuple[date, VendorPlan, list[BillLine]]]) -> int:
        """A recent contractor bill that will be entered twice (a likely-duplicate bill)."""
        recent = [
            index
            for index, (txn_date, vendor, _) in enumerate(schedule)
            if vendor.role == "contractor" and 10 <= (self.today - txn_date).days <= 45
        ]
        return recent[-1] if recent else len(schedule) - 1

    def _bill(
        self,
        txn_date: date,
        vendor: VendorPlan,
        lines: list[BillLine],
        profile: Profile,
        *,
        doc_suffix: str,
        pay: bool = True,
    ) -> None:
        due = txn_date + timedelta(days=vendor.term_days if vendor.term_days is not None else 30)
        accounts = self.lists.accounts
        number = f"{vendor.name[:3].upper()}-{txn_date:%y%m}{between(self.rng, 10, 99)}"
        has_number = vendor.role not in {"utility", "landlord"}

        def build() -> Body:
            body: Body = {
                "VendorRef": vendor.draft.ref(),
                "APAccountRef": accounts["Accounts Payable (A/P)"].ref(),
                "TxnDate": txn_date.isoformat(),
                "Line": [_expense_line(line, accounts) for line in lines],
            }
            if vendor.term is not None:
                body["SalesTermRef"] = vendor.term.ref()
                body["DueDate"] = due.isoformat()
            if has_number:
                body["DocNumber"] = number + doc_suffix
            return body

        bill = self.book.add("Bill", txn_date, build)
        paid_on = self._pay_date(txn_date, due, vendor, profile)
        if pay and paid_on is not None:
            self._bill_payment(bill, vendor, paid_on, sum((line.amount for line in lines), ZERO))

    def _pay_date(self, txn_date: date, due: date, vendor: VendorPlan, profile: Profile) -> date | None:
        """On time (a few days early at most), unless the firm is stretching vendors; None: not paid yet."""
        paid_on = max(txn_date, due - timedelta(days=between(self.rng, 0, 3)))
        if vendor.role in STRETCHABLE and (self.today - due).days <= profile.stretch_days:
            if self.rng.random() < profile.stretch_unpaid:
                return None
            paid_on = due + timedelta(days=between(self.rng, 7, 25))
        friday_before = previous_business_day(paid_on)
        paid_on = friday_before if friday_before >= txn_date else next_business_day(paid_on)
        return paid_on if paid_on <= self.today else None

    def _bill_payment(self, bill: Draft, vendor: VendorPlan, paid_on: date, amount: Decimal) -> None:
        by_card = vendor.role == "billed_software"
        accounts = self.lists.accounts
        numbers = self.check_numbers

        def build() -> Body:
            body: Body = {
                "VendorRef": vendor.draft.ref(),
                "TxnDate": paid_on.isoformat(),
                "TotalAmt": amount,
                "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": bill.id, "TxnType": "Bill"}]}],
            }
            if by_card:
                body["PayType"] = "CreditCard"
                body["CreditCardPayment"] = {"CCAccountRef": accounts["Amex Business Card"].ref()}
            else:
                body["PayType"] = "Check"
                body["CheckPayment"] = {"BankAccountRef": accounts["Checking"].ref(), "PrintStatus": "NotSet"}
                body["DocNumber"] = str(next(numbers))
            return body

        self.book.add("BillPayment", paid_on, build, after=(bill,), bank_delta=ZERO if by_card else -amount)
        if by_card:
            self._charge(paid_on, amount)

    # -- card -----------------------------------------------------------------------------------

    def _card_software(self) -> None:
        vendors = self.lists.vendors_in("card_software")
        for month in month_starts(self.start, self.today):
            for index, vendor in enumerate(vendors):
                on = on_day(month, 2 + index * 5)
                if self.start <= on <= self.today:
                    amount = money(self.costs * CARD_SOFTWARE / len(vendors) * Decimal(str(0.6 + index * 0.16)))
                    line = BillLine("Software Subscriptions", f"{vendor.name} monthly plan", amount)
                    self._purchase(on, vendor, [line], card=True)

    def _uncategorized(self) -> None:
        """Bank and card lines nobody has categorized yet."""
        for index in range(UNCATEGORIZED):
            on = business_day_not_after(self.today - timedelta(days=between(self.rng, 3, 80)), self.today)
            amount = money(self.rng.uniform(40, 900))
            line = BillLine("Uncategorized Expense", f"POS DEBIT SQ *{between(self.rng, 1000, 9999)}", amount)
            vendor = self.lists.vendor("office") if index == 0 else None
            self._purchase(on, vendor, [line], card=index % 2 == 0)

    def write_card_purchases(self, count: int) -> None:
        """Travel, meals and office supplies on the card, spread over the history."""
        rng, span = self.rng, (self.today - self.start).days
        mean_weight = sum(category[3] for category in _CARD_DRAWS) / len(_CARD_DRAWS)
        mean_amount = float(self.costs * CARD_MISC * self.months) / max(count, 1) / mean_weight
        vendors = {category[0]: self.lists.vendors_in(category[0]) for category in _CARD_CATEGORIES}
        for _ in range(count):
            on = business_day_not_after(self.start + timedelta(days=between(rng, 0, span)), self.today)
            role, account, descriptions, weight, _frequency = _CARD_DRAWS[between(rng, 0, len(_CARD_DRAWS) - 1)]
            vendor = vendors[role][between(rng, 0, len(vendors[role]) - 1)]
            amount = money(max(1.0, mean_amount * weight * (0.3 + 1.4 * rng.random())))
            line = BillLine(account, descriptions[between(rng, 0, len(descriptions) - 1)], amount)
            self._purchase(on, vendor, [line], card=True)

    def _card_payoffs(self) -> None:
        """Each month's statement is paid from Checking on the 15th of the next month (or the next business day)."""
        for month in month_starts(self.start, self.today):
            pay_on = next_business_day(add_months(month, 1).replace(day=15))
            if pay_on <= self.today:
                self.payoffs[month] = self._card_payoff(month, pay_on)

    def _card_payoff(self, month: date, pay_on: date) -> Draft:
        """The amount is read at build time: purchases added later still land on the statement."""
        issuer = self.lists.vendor("card_issuer")
        accounts = self.lists.accounts
        charges = self.card_charges
        numbers = self.check_numbers

        def build() -> Body:
            line = BillLine("Amex Business Card", f"Card statement {month:%B %Y}", charges.get(month, ZERO))
            return {
                "PaymentType": "Check",
                "AccountRef": accounts["Checking"].ref(),
                "EntityRef": {**issuer.draft.ref(), "type": "Vendor"},
                "TxnDate": pay_on.isoformat(),
                "DocNumber": str(next(numbers)),
                "PrivateNote": "Credit card payment",
                "Line": [_expense_line(line, accounts)],
            }

        return self.book.add("Purchase", pay_on, build, bank_delta=-charges.get(month, ZERO))


def _expense_line(line: BillLine, accounts: dict[str, Draft]) -> Body:
    return {
        "Amount": line.amount,
        "DetailType": "AccountBasedExpenseLineDetail",
        "Description": line.description,
        "AccountBasedExpenseLineDetail": {
            "AccountRef": accounts[line.account].ref(),
            "BillableStatus": "NotBillable",
        },
    }
