"""SmartSync and its machinery; only SmartSyncService is public."""
