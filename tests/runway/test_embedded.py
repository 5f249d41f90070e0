"""The embedded default: migrations on start-up, the QBO sandbox mounted, the demo user signed in from loopback."""

from __future__ import annotations

from pathlib import Path

import httpx

from oodaloo.domains.core.demo import DEMO_EMAIL, demo_business_name
from oodaloo.main import create_app, sandbox_config
from oodaloo.settings import Settings
from tests.support.servers import serve


def test_embedded_default_serves_the_demo_company_linked_to_the_sandbox(
    embedded_settings: Settings, tmp_path: Path
) -> None:
    embedded = embedded_settings
    realm_id = sandbox_config(embedded).realm_id

    with serve(create_app(embedded)) as base_url, httpx.Client(base_url=base_url) as browser:
        landing = browser.get("/")  # signs the demo user in and lands on their one business's console
        assert landing.status_code == 303
        [demo] = browser.get("/api/businesses").json()
        assert landing.headers["location"] in (f"/businesses/{demo['id']}", f"/businesses/{demo['id']}/first-sync")
        home = browser.get("/businesses")
        assert home.status_code == 200
        assert DEMO_EMAIL in home.text
        assert demo_business_name("healthy") in home.text
        assert realm_id in home.text
        realm_link = f"/qbo-sandbox/_sandbox/realms/{realm_id}"
        assert f'href="{realm_link}"' in home.text

        realm = browser.get(realm_link)
        assert realm.status_code == 200
        assert realm.headers["content-type"].startswith("application/json")
        assert realm_id in realm.text

        [business] = browser.get("/api/businesses").json()
        assert business["qbo_realm_id"] == realm_id
        assert business["timezone"] == "America/Los_Angeles"
        assert business["currency"] == "USD"

    # The sandbox's lifespan ran: at shutdown it saved its state where it was told to.
    assert (tmp_path / "sandbox-state.json").exists()
