"""Token encryption at rest: ciphertexts hide the plaintext, keys rotate, and production demands explicit keys."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from oodaloo.infra.crypto import DecryptionFailed, TokenCipher, derive_key, generate_key
from oodaloo.settings import Settings
from tests.support.production import production_settings

STRONG_SECRET = "k3Jq9VZp0rX2mN8bT4wY6cL1fH5sD7gA"
TOKEN = "RT1-refresh-token-plaintext-0123456789"


def test_ciphertext_does_not_contain_the_plaintext_and_decrypts_back() -> None:
    cipher = TokenCipher([generate_key()])
    ciphertext = cipher.encrypt(TOKEN)
    assert TOKEN.encode() not in ciphertext
    assert cipher.encrypt(TOKEN) != ciphertext  # a fresh IV each time: equal tokens are not recognisable
    assert cipher.decrypt(ciphertext) == TOKEN


def test_rotation_prepends_a_key_and_reencrypts_under_it() -> None:
    old_key, new_key = generate_key(), generate_key()
    old_ciphertext = TokenCipher([old_key]).encrypt(TOKEN)
    rotating = TokenCipher([new_key, old_key])
    assert rotating.decrypt(old_ciphertext) == TOKEN
    rotated = rotating.rotate(old_ciphertext)
    assert TokenCipher([new_key]).decrypt(rotated) == TOKEN
    with pytest.raises(DecryptionFailed):
        TokenCipher([old_key]).decrypt(rotated)


def test_a_foreign_or_tampered_ciphertext_fails_without_revealing_anything() -> None:
    cipher = TokenCipher([generate_key()])
    foreign = TokenCipher([generate_key()]).encrypt(TOKEN)
    with pytest.raises(DecryptionFailed) as raised:
        cipher.decrypt(foreign)
    assert TOKEN not in str(raised.value)
    tampered = bytearray(cipher.encrypt(TOKEN))
    tampered[-5] ^= 1
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(bytes(tampered))


def test_configured_keys_win_over_the_key_derived_from_the_secret_key() -> None:
    first, second = generate_key(), generate_key()
    configured = TokenCipher.from_config(f" {first} , {second} ", secret_key=STRONG_SECRET)
    assert TokenCipher([first]).decrypt(configured.encrypt(TOKEN)) == TOKEN
    derived = TokenCipher.from_config(None, secret_key=STRONG_SECRET)
    assert TokenCipher([derive_key(STRONG_SECRET)]).decrypt(derived.encrypt(TOKEN)) == TOKEN
    assert derive_key(STRONG_SECRET) != derive_key(STRONG_SECRET + "x")


def test_keys_that_are_not_fernet_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="Fernet"):
        TokenCipher(["not-a-key"])
    with pytest.raises(ValidationError, match="ENCRYPTION_KEYS") as raised:
        Settings(encryption_keys="not-a-key-but-a-secret")
    assert "not-a-key-but-a-secret" not in str(raised.value)


def test_production_refuses_to_start_without_explicit_encryption_keys() -> None:
    with pytest.raises(ValidationError, match="OODALOO_ENCRYPTION_KEYS must be set in production"):
        Settings(environment="production", secret_key=STRONG_SECRET)
    settings = production_settings(secret_key=STRONG_SECRET, encryption_keys=generate_key())
    assert settings.encryption_keys is not None
