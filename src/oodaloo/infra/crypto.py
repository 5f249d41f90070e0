"""Encryption at rest for secrets we must read back (QBO tokens): Fernet under MultiFernet, so keys can rotate."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Changing either value changes the derived key and makes existing ciphertexts unreadable.
_DERIVATION_SALT = b"oodaloo.infra.crypto"
_DERIVATION_INFO = b"token-encryption-key/v1"


class DecryptionFailed(Exception):
    """A ciphertext that none of the configured keys opens (wrong key set, or tampered data)."""


def generate_key() -> str:
    """A new random Fernet key, as it goes into ``OODALOO_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode()


def parse_keys(value: str) -> list[str]:
    """Comma-separated keys, newest first; blanks are ignored."""
    return [key.strip() for key in value.split(",") if key.strip()]


def derive_key(secret_key: str) -> str:
    """A Fernet key derived from the app's secret key, for development and tests only (production sets keys)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_DERIVATION_SALT, info=_DERIVATION_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode())).decode()


class TokenCipher:
    """Encrypts with the first key; decrypts with any of them. Rotation: prepend a new key, then ``rotate`` each value.

    Plaintexts are never logged or put in exception messages.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        try:
            fernets = [Fernet(key.encode()) for key in keys]
        except ValueError:
            raise ValueError("encryption keys must be url-safe base64 Fernet keys of 32 bytes") from None
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_config(cls, encryption_keys: str | None, *, secret_key: str) -> TokenCipher:
        """The configured keys, or else one derived from ``secret_key`` (settings refuse that in production)."""
        keys = parse_keys(encryption_keys or "")
        return cls(keys or [derive_key(secret_key)])

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise DecryptionFailed("the value cannot be decrypted with the configured encryption keys") from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same plaintext encrypted with the current (first) key."""
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken:
            raise DecryptionFailed("the value cannot be decrypted with the configured encryption keys") from None
