"""The runway core: the 13-week forecast engine and what assembles its inputs from the domains."""
