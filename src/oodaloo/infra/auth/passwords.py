"""Password hashing with argon2id, and the minimum rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 low-memory profile


def use_hasher(hasher: PasswordHasher) -> None:
    """Replace the hashing parameters; existing hashes are upgraded at their owner's next sign-in."""
    global _hasher
    _hasher = hasher


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (then rehash on login)."""
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str, *, email: str = "") -> str | None:
    """The first rule ``password`` breaks, phrased for the user, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters long."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Password must be at most {MAX_PASSWORD_LENGTH} characters long."
    if password.strip() == "" or len(set(password)) < 4:
        return "Password is too simple: use a mix of at least four different characters."
    if email and password.lower() == email.lower():
        return "Password must not be the same as the email address."
    return None
