"""QuickBooks Online: the client, OAuth connection, mirror sync and data services (later issues)."""
