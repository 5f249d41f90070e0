"""The local QBO sandbox: an offline server speaking the QuickBooks Online Accounting API v3.

It shares no code with the rest of Oodaloo; the product reaches it only over HTTP.
"""
