"""Business rules of the sandbox: realm state, lenient input, name lists, transactions and their effects."""
