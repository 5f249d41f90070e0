"""Accounts payable: bills, vendors, bill payments and payment plans (later issues)."""
