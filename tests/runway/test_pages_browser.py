"""The console's first page in a real browser: the embedded default signs the demo user in, shows the demo company,
and lets them back in after signing out."""

from __future__ import annotations

from oodaloo.domains.core.demo import DEMO_EMAIL, demo_business_name
from oodaloo.main import create_app, sandbox_config
from oodaloo.settings import Settings
from tests.support.browser import chromium
from tests.support.servers import serve


def test_the_demo_company_appears_for_a_visitor_on_this_machine(embedded_settings: Settings) -> None:
    embedded = embedded_settings
    realm_id = sandbox_config(embedded).realm_id

    with serve(create_app(embedded)) as base_url, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{base_url}/")
        body = page.inner_text("body")
        assert DEMO_EMAIL in body
        assert demo_business_name("healthy") in body
        assert realm_id in body

        # The realm link leads to the sandbox's own description of the demo company's books.
        page.click(f'a[href="/qbo-sandbox/_sandbox/realms/{realm_id}"]')
        assert realm_id in page.inner_text("body")

        # Signing out in the browser ends the session: the sign-in form is shown instead of the company.
        page.goto(f"{base_url}/")
        page.click("text=Sign out")
        page.wait_for_load_state()
        assert demo_business_name("healthy") not in page.inner_text("body")
        assert DEMO_EMAIL not in page.inner_text("body")

        # The demo user has no password; on this machine the sign-in page offers the way back in.
        page.click("text=Continue as the demo user")
        page.wait_for_load_state()
        body = page.inner_text("body")
        assert DEMO_EMAIL in body
        assert realm_id in body
