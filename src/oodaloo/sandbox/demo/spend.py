"""The demo's spending: payroll (payroll.py) and its provider's fee, tax payments, vendor bills and payments, card
purchases and their payoffs, bank fees; amounts move as real ones do (headcount, renewals, escalations, seasons) and
a few one-offs come once a year (a rent reconciliation, the tax return, laptops for new hires)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .book import Body, Book
from .dates import (
    add_months,
    business_day_not_after,
    days_in_month,
    month_starts,
    next_business_day,
    on_day,
    previous_business_day,
)
from .model import ZERO, Draft, between, money
from .payroll import PayrollWriter, draw_staffing, yearly_factors
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
UNCATEGORIZED = 4
# Gusto-like pricing: a base fee and a fee per person, debited early the next month.
PAYROLL_FEE_BASE = Decimal(80)
PAYROLL_FEE_PER_PERSON = Decimal(12)
# The bank's monthly service fee, debited on the month's last business day.
BANK_FEES = (Decimal(25), Decimal(30), Decimal(35))
# Rent steps up on each anniversary of the lease; each April the landlord bills last year's operating-expense
# reconciliation (a share of a year's rent).
RENT_ESCALATION = Decimal("0.03")
RECONCILIATION_MONTH = 4
RECONCILIATION_SHARE = (0.01, 0.04)
# The group health plan renews each January at a higher premium; premiums follow headcount.
HEALTH_RENEWAL = (0.05, 0.09)
# The accountant bills the annual tax return in March, on top of the monthly bookkeeping.
TAX_RETURN_MONTH = 3
TAX_RETURN_FEES = (2.0, 4.0)
# Electricity costs more in winter (heating): this amplitude around the average, peaking in January.
ELECTRICITY_SEASON = 0.2
# Card software: some plans are per seat (they follow headcount), one is paid yearly, one raises its price once.
PER_SEAT_SOFTWARE = frozenset({"Slack", "Zoom", "Google Workspace"})
YEARLY_SOFTWARE = "DocuSign"
YEARLY_DISCOUNT = Decimal("0.85")
PRICE_RISE_SOFTWARE = "Intuit QuickBooks"
PRICE_RISE = (0.1, 0.2)
# Each new hire gets a laptop, bought on the card in the week before they start.
LAPTOP_PRICES = (1800, 2800)
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
        self,
        book: Book,
        lists: Lists,
        profile: Profile,
        *,
        start: date,
        today: date,
        frequency: int,
        monthly_costs: Decimal,
    ) -> None:
        super().__init__(book, lists, start=start, today=today, frequency=frequency)
        self.profile = profile
        self.costs = monthly_costs
        self.check_numbers = itertools.count(5001)
        self.card_charges: dict[date, Decimal] = {}
        self.payoffs: dict[date, Draft] = {}
        self.months = len(list(month_starts(start, today)))
        # What moves the recurring amounts over the history (drawn before anything is written).
        rng = self.rng
        self.payroll = self.costs * PAYROLL
        self.staffing = draw_staffing(rng, profile, monthly_payroll=self.payroll, start=start, today=today)
        self.lease_month = between(rng, 1, 12)
        self.health_renewals = yearly_factors(rng, start, today, HEALTH_RENEWAL)
        self.price_rise_on = add_months(start.replace(day=1), between(rng, 2, max(2, self.months - 2)))
        self.price_rise = Decimal(str(1 + rng.uniform(*PRICE_RISE)))
        self.yearly_plan_month = between(rng, 1, 12)

    def write_core(self) -> None:
        """Everything but the travel, meals and office purchases on the card (the volume knob)."""
        payroll = PayrollWriter(
            self.book, self.lists, self.rng, start=self.start, today=self.today, staffing=self.staffing
        )
        payroll.write(self.profile, self.payroll)
        self._payroll_fees()
        self._estimated_taxes()
        self._bills()
        self._card_software()
        self._laptops()
        self._bank_fees()
        self._uncategorized()
        self._card_payoffs()

    def natural_card_purchases(self) -> int:
        return MISC_CARD_PER_MONTH * self.frequency * self.months

    # -- payroll fees and taxes -----------------------------------------------------------------

    def _payroll_fees(self) -> None:
        """The payroll provider debits last month's fee from Checking early in the month."""
        provider = self.lists.vendor("payroll")
        for month in month_starts(add_months(self.start, 1), self.today):
            worked = add_months(month, -1)
            on = next_business_day(month)
            if on <= self.today:
                fee = money(PAYROLL_FEE_BASE + PAYROLL_FEE_PER_PERSON * self.staffing.on(worked))
                line = BillLine("Payroll Expenses", f"Payroll service fee, {worked:%B %Y}", fee)
                self._purchase(on, provider, [line])

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

    def _bills(self) -> None:
        schedule: list[tuple[date, VendorPlan, list[BillLine]]] = []
        for month in month_starts(self.start, self.today):
            schedule.extend(self._month_of_bills(month))
        schedule.sort(key=lambda entry: entry[0])
        duplicate_of = self._duplicate_candidate(schedule)
        for index, (txn_date, vendor, lines) in enumerate(schedule):
            if self.start <= txn_date <= self.today:
                self._bill(txn_date, vendor, lines, doc_suffix="")
            if index == duplicate_of:
                again = min(self.today, txn_date + timedelta(days=between(self.rng, 1, 3)))
                self._bill(again, vendor, lines, doc_suffix="-A", pay=False)

    def _month_of_bills(self, month: date) -> list[tuple[date, VendorPlan, list[BillLine]]]:
        rng, f = self.rng, self.frequency
        bills: list[tuple[date, VendorPlan, list[BillLine]]] = []
        landlord = self.lists.vendor("landlord")
        rent = money(self.costs * RENT * self._lease_factor(month))
        bills.append((month, landlord, [BillLine("Rent", f"Rent {month:%B %Y}", rent)]))
        if month.month == RECONCILIATION_MONTH:
            amount = money(rent * 12 * Decimal(str(rng.uniform(*RECONCILIATION_SHARE))))
            line = BillLine("Rent", f"Operating expense reconciliation {month.year - 1}", amount)
            bills.append((on_day(month, between(rng, 8, 20)), landlord, [line]))
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
        liability, health = self.lists.vendors_in("insurance")  # The Hartford, Blue Shield of California
        premium = money(
            self.costs * HEALTH_INSURANCE * self.staffing.relative(month) * self.health_renewals[month.year]
        )
        bills.append((on_day(month, 5), health, [BillLine("Insurance", "Group health premium", premium)]))
        if month.month % 3 == 1:
            amount = money(self.costs * LIABILITY_INSURANCE * 3)
            bills.append((on_day(month, 10), liability, [BillLine("Insurance", "Liability insurance", amount)]))
        winter = Decimal(str(1 + ELECTRICITY_SEASON * math.cos(2 * math.pi * (month.month - 1) / 12)))
        for index, vendor in enumerate(self.lists.vendors_in("utility")):
            season = winter if index == 0 else Decimal(1)  # the power company
            amount = money(self.costs * UTILITIES / 3 * season * Decimal(str(rng.uniform(0.7, 1.3))))
            bills.append((on_day(month, 12 + index * 3), vendor, [BillLine("Utilities", "Monthly service", amount)]))
        accountant, lawyer = self.lists.vendors_in("professional")
        fee = money(self.costs * ACCOUNTANT)
        bills.append((on_day(month, 20), accountant, [BillLine("Professional Fees", "Bookkeeping and tax", fee)]))
        if month.month == TAX_RETURN_MONTH:
            amount = money(fee * Decimal(str(rng.uniform(*TAX_RETURN_FEES))))
            line = BillLine("Professional Fees", f"Tax return preparation {month.year - 1}", amount)
            bills.append((on_day(month, 25), accountant, [line]))
        if rng.random() < 0.35:
            amount = money(self.costs * LAWYER / Decimal("0.35") * Decimal(str(rng.uniform(0.5, 1.5))))
            line = BillLine("Professional Fees", "Contract review", amount)
            bills.append((on_day(month, between(rng, 1, 28)), lawyer, [line]))
        return bills

    def _lease_factor(self, month: date) -> Decimal:
        """Rent relative to the first year's: up by the escalation on every lease anniversary passed."""
        anniversaries = sum(
            1
            for year in range(self.start.year, month.year + 1)
            if self.start < date(year, self.lease_month, 1) <= month
        )
        return (1 + RENT_ESCALATION) ** anniversaries

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
        paid_on = self._pay_date(txn_date, due, vendor, self.profile)
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
                if not self.start <= on <= self.today:
                    continue
                monthly = self.costs * CARD_SOFTWARE / len(vendors) * Decimal(str(0.6 + index * 0.16))
                description = f"{vendor.name} monthly plan"
                if vendor.name in PER_SEAT_SOFTWARE:
                    seats = self.staffing.on(month)
                    monthly *= self.staffing.relative(month)
                    description = f"{vendor.name} monthly plan, {seats} seats"
                elif vendor.name == PRICE_RISE_SOFTWARE and month >= self.price_rise_on:
                    monthly *= self.price_rise
                elif vendor.name == YEARLY_SOFTWARE:
                    if month.month != self.yearly_plan_month:
                        continue
                    monthly *= 12 * YEARLY_DISCOUNT
                    description = f"{vendor.name} annual plan"
                line = BillLine("Software Subscriptions", description, money(monthly))
                self._purchase(on, vendor, [line], card=True)

    def _laptops(self) -> None:
        """A laptop on the card for each new hire, in the first days of the month they join."""
        store = self.lists.vendors_in("office")[1]
        for month, hires in self.staffing.hires():
            for _ in range(hires):
                on = business_day_not_after(month + timedelta(days=between(self.rng, 0, 6)), self.today)
                if self.start <= on <= self.today:
                    amount = money(between(self.rng, *LAPTOP_PRICES))
                    self._purchase(on, store, [BillLine("Office Supplies", "Laptop for a new hire", amount)], card=True)

    def _bank_fees(self) -> None:
        fee = BANK_FEES[between(self.rng, 0, len(BANK_FEES) - 1)]
        for month in month_starts(self.start, self.today):
            on = previous_business_day(month.replace(day=days_in_month(month.year, month.month)))
            if self.start <= on <= self.today:
                self._purchase(on, None, [BillLine("Bank Charges", "Monthly service fee", money(fee))])

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
