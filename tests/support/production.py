"""Settings that production accepts, for tests of the production shape: strong secrets, an Intuit app of its own.

Production refuses the sandbox's QBO client and defaults nothing to the embedded sandbox, so the QBO URLs point at
loopback's discard port: nothing here may reach the internet, and nothing in these tests connects to QBO.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet

from oodaloo.settings import Settings

STRONG_SECRET_KEY = "k3Jq9VZp0rX2mN8bT4wY6cL1fH5sD7gA"
PRODUCTION_QBO_CLIENT_ID = "ABc1D2eF3gH4iJ5kL6mN7oP8qR9sT0uV1wX2yZ3aB4cD5eF6g"
PRODUCTION_QBO_CLIENT_SECRET = "Qw9Er8Ty7Ui6Op5As4Df3Gh2Jk1Lz0XcVbNm"
PRODUCTION_QBO_WEBHOOK_VERIFIER_TOKEN = "5b2e9c1a-7f4d-4e8b-a3c6-0d9f8e7b6a54"
UNREACHABLE_QBO = "http://127.0.0.1:9"


def production_values(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments (or, upper-cased with ``OODALOO_``, environment variables) for a valid production app."""
    values: dict[str, Any] = {
        "environment": "production",
        "secret_key": STRONG_SECRET_KEY,
        "encryption_keys": Fernet.generate_key().decode(),
        "qbo_client_id": PRODUCTION_QBO_CLIENT_ID,
        "qbo_client_secret": PRODUCTION_QBO_CLIENT_SECRET,
        "qbo_webhook_verifier_token": PRODUCTION_QBO_WEBHOOK_VERIFIER_TOKEN,
        "qbo_api_base_url": UNREACHABLE_QBO,
        "qbo_discovery_url": UNREACHABLE_QBO + "/.well-known/openid_configuration",
        "qbo_redirect_uri": "https://oodaloo.example.com/qbo/callback",
        "smtp_host": "127.0.0.1",
        "smtp_port": 9,  # loopback's discard port: nothing is mailed from these tests
        "mail_from": "Oodaloo <digest@oodaloo.example.com>",
        "public_base_url": "https://oodaloo.example.com",
    }
    values.update(overrides)
    return values


def production_settings(**overrides: Any) -> Settings:
    return Settings(**production_values(**overrides))
