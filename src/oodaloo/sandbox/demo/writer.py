"""What the demo's transaction writers share: the book they add drafts to, its random source, the company's lists
and the span of days (and how busy the firm is) they write over."""

from __future__ import annotations

from datetime import date

from .book import Book
from .setup import Lists


class Writer:
    """The base of SalesWriter and SpendWriter."""

    def __init__(self, book: Book, lists: Lists, *, start: date, today: date, frequency: int) -> None:
        self.book = book
        self.rng = book.rng
        self.lists = lists
        self.start = start
        self.today = today
        self.frequency = frequency
