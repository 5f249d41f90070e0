"""Authentication primitives: password hashing, opaque tokens, CSRF tokens."""
