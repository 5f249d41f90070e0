"""The console's first page in a real browser: the embedded default signs the demo user in and lands them on the demo
company's console, lists it among their businesses, and lets them back in after signing out."""

from __future__ import annotations

import re

from oodaloo.domains.core.demo import DEMO_EMAIL, demo_business_name
from oodaloo.main import create_app, sandbox_config
from oodaloo.settings import Settings
from tests.support.browser import chromium
from tests.support.servers import serve

# The landing may wait for the demo company's first sync (when it connected before the visit): seconds, bounded.
LANDING_MS = 120_000


def test_the_demo_company_appears_for_a_visitor_on_this_machine(embedded_settings: Settings) -> None:
    embedded = embedded_settings
    realm_id = sandbox_config(embedded).realm_id

    with serve(create_app(embedded)) as base_url, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{base_url}/")
        # Their one business's console (by way of its first sync's progress while that runs).
        page.wait_for_url(re.compile(r"/businesses/[0-9a-f-]{36}$"), timeout=LANDING_MS)
        [demo] = page.context.request.get(f"{base_url}/api/businesses").json()
        assert page.url == f"{base_url}/businesses/{demo['id']}"

        page.goto(f"{base_url}/businesses")
        body = page.inner_text("body")
        assert DEMO_EMAIL in body
        # The business's name opens its console (textContent: a stylesheet may change the name's case on screen).
        console_link = page.locator(f'a[href="/businesses/{demo["id"]}"]')
        assert console_link.text_content() == demo_business_name("healthy")
        assert realm_id in body

        # The realm link leads to the sandbox's own description of the demo company's books.
        page.click(f'a[href="/qbo-sandbox/_sandbox/realms/{realm_id}"]')
        assert realm_id in page.inner_text("body")

        # Signing out in the browser ends the session: the sign-in form is shown instead of the company.
        page.goto(f"{base_url}/businesses")
        page.click("text=Sign out")
        page.wait_for_load_state()
        assert demo_business_name("healthy") not in page.content()
        assert DEMO_EMAIL not in page.inner_text("body")

        # The demo user has no password; on this machine the sign-in page offers the way back in.
        page.click("text=Continue as the demo user")
        page.wait_for_url(f"{base_url}/businesses/{demo['id']}", timeout=LANDING_MS)
        page.goto(f"{base_url}/businesses")
        body = page.inner_text("body")
        assert DEMO_EMAIL in body
        assert realm_id in body
