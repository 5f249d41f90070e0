"""Accounts receivable: invoices, customers, collections and customer payments (later issues)."""
