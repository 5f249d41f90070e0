"""Tenant isolation as a matrix over every route of the served app's OpenAPI that names a business or a firm, so routes
added later are covered without touching this file.

For each route: another tenant's business (or firm) and a random id answer the same 404, which names none of the other
tenant's data; a caller with no credentials gets 401; a viewer gets 403 on every write; an advisor of a firm reaches
the businesses that engaged the firm (reads pass the tenant check) and gets 404 from every other. Path parameters are
built from their schema (a uuid, a number or a QBO-like id, random): the tenant check must come before anything that
would look them up, before the body is read and before any header is required.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from oodaloo.runway.deps import READS_ONLY
from tests.conftest import Account
from tests.runway.test_business_routes import add_member, create_business
from tests.runway.test_firm_routes import add_firm_member, create_firm, engage

WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
METHODS = WRITE_METHODS | {"get"}
READS_ONLY_MARK = next(iter(READS_ONLY))
SCOPES = {"business_id": "business_not_found", "firm_id": "firm_not_found"}
# Routes this matrix must find: if discovery broke, the matrix would otherwise pass by testing nothing.
KNOWN_ROUTES = {
    ("get", "/api/businesses/{business_id}"),
    ("delete", "/api/businesses/{business_id}/members/{user_id}"),
    ("post", "/api/businesses/{business_id}/bills/{bill_id}/pay"),
    ("get", "/api/businesses/{business_id}/balances"),
    ("get", "/api/businesses/{business_id}/audit"),
    ("patch", "/api/businesses/{business_id}/firms/{firm_id}"),
    ("get", "/api/firms/{firm_id}/clients"),
    ("delete", "/api/firms/{firm_id}/members/{user_id}"),
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    parameters: tuple[dict[str, Any], ...]
    reads_only: bool = False  # a POST that computes without changing anything (a what-if): viewers may call it

    @property
    def scope(self) -> str:
        """The parameter that decides the tenant: the business when the path names one, else the firm."""
        return "business_id" if "{business_id}" in self.path else "firm_id"

    @property
    def writes(self) -> bool:
        return self.method in WRITE_METHODS and not self.reads_only

    def url(self, **ids: str) -> str:
        """The path with ``ids`` where given and a random value of the right shape for every other parameter."""
        url = self.path
        for parameter in self.parameters:
            if parameter.get("in") == "path":
                name = parameter["name"]
                url = url.replace(f"{{{name}}}", ids.get(name) or random_value(parameter.get("schema", {})))
        return url

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def random_value(schema: dict[str, Any]) -> str:
    """A value a client could send for a path parameter of this schema, naming nothing that exists."""
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if "enum" in schema:
        return str(random.choice(schema["enum"]))
    if schema.get("type") == "integer":
        return str(random.randint(max(1, schema.get("minimum", 1)), 10**9))
    # QBO ids are digit strings; keep within the declared length.
    length = max(schema.get("minLength", 1), min(schema.get("maxLength", 9), 9))
    return "".join(random.choice("123456789") for _ in range(length))


def tenant_routes(openapi: dict[str, Any]) -> list[Route]:
    routes = []
    for path, operations in openapi["paths"].items():
        if not any(f"{{{scope}}}" in path for scope in SCOPES):
            continue
        shared = operations.get("parameters", [])
        for method, operation in operations.items():
            if method in METHODS:
                parameters = tuple(shared) + tuple(operation.get("parameters", []))
                routes.append(Route(method, path, parameters, bool(operation.get(READS_ONLY_MARK))))
    return routes


@dataclass
class Tenants:
    """Business A (engaging firm F) with a viewer; business C not engaging F; a stranger owning B and firm G."""

    owner: Account
    viewer: Account
    stranger: Account
    firm_advisor: Account
    business_id: str
    unengaged_business_id: str
    firm_id: str
    strangers_firm_id: str
    secrets: tuple[str, ...]  # what must never show in another tenant's answers


@pytest.fixture
def tenants(make_account: Callable[..., Account]) -> Tenants:
    owner, viewer, stranger = make_account("matrix-owner"), make_account("matrix-viewer"), make_account("stranger")
    firm_admin, firm_advisor, other_owner = (make_account(label) for label in ("firm-admin", "firm-adv", "other"))
    tag = uuid.uuid4().hex[:8]
    business = create_business(owner, name=f"Victim Bakery {tag}")
    add_member(owner, business["id"], viewer, "viewer")
    firm = create_firm(firm_admin, f"Victim Advisors {tag}")
    add_firm_member(firm_admin, firm["id"], firm_advisor)
    engage(owner, business["id"], firm["id"], advisors_may_act=True)
    unengaged = create_business(other_owner, name=f"Unengaged Works {tag}")
    create_business(stranger, name="Stranger Things Inc")
    strangers_firm = create_firm(stranger, "Stranger Advisory")
    secrets = (
        business["id"],
        business["name"],
        owner.email,
        owner.user_id,
        viewer.email,
        firm["id"],
        firm["name"],
        firm_admin.email,
        unengaged["id"],
        unengaged["name"],
        other_owner.email,
    )
    return Tenants(
        owner,
        viewer,
        stranger,
        firm_advisor,
        business["id"],
        unengaged["id"],
        firm["id"],
        strangers_firm["id"],
        secrets,
    )


@pytest.fixture
def routes(api: str) -> list[Route]:
    openapi = httpx.get(f"{api}/openapi.json").json()
    found = tenant_routes(openapi)
    assert {(route.method, route.path) for route in found} >= KNOWN_ROUTES
    return found


@pytest.fixture
def anonymous_client(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, timeout=30) as client:
        yield client


def call(client: httpx.Client, route: Route, url: str) -> tuple[int, str]:
    """The status and body of a call with no body and no extra headers; a stream (server-sent events) is not read
    past its status."""
    with client.stream(route.method.upper(), url) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, ""
        response.read()
        return response.status_code, response.text


def error_code(body: str) -> str | None:
    try:
        code = httpx.Response(200, content=body).json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(code)


def test_another_tenants_ids_answer_exactly_as_random_ones_do_and_reveal_nothing(
    routes: list[Route], tenants: Tenants
) -> None:
    client = tenants.stranger.client
    targets = {"business_id": tenants.business_id, "firm_id": tenants.firm_id}
    failures = []
    for route in routes:
        # The other tenant's id for the scope; the stranger's own firm where a business route also names a firm.
        ids = {route.scope: targets[route.scope]}
        if route.scope == "business_id":
            ids["firm_id"] = tenants.strangers_firm_id
        theirs = call(client, route, route.url(**ids))
        nobodys = call(client, route, route.url(**{route.scope: str(uuid.uuid4())}))
        if theirs[0] != 404 or error_code(theirs[1]) != SCOPES[route.scope]:
            failures.append(f"{route}: another tenant's id answered {theirs[0]} {theirs[1][:200]}")
        elif theirs != nobodys:
            failures.append(f"{route}: another tenant's id answered unlike a random one: {theirs} vs {nobodys}")
        elif leaked := [secret for secret in tenants.secrets if secret.lower() in theirs[1].lower()]:
            failures.append(f"{route}: the answer names {leaked}")
    assert not failures, "\n".join(failures)


def test_callers_without_credentials_are_asked_to_sign_in_everywhere(
    routes: list[Route], tenants: Tenants, anonymous_client: httpx.Client
) -> None:
    failures = []
    for route in routes:
        url = route.url(business_id=tenants.business_id, firm_id=tenants.firm_id)
        status, body = call(anonymous_client, route, url)
        if status != 401:
            failures.append(f"{route}: {status} {body[:200]}")
    assert not failures, "\n".join(failures)


def test_a_viewer_reads_but_every_write_is_refused(routes: list[Route], tenants: Tenants) -> None:
    client = tenants.viewer.client
    failures = []
    for route in routes:
        if route.scope != "business_id":
            continue
        status, body = call(client, route, route.url(business_id=tenants.business_id, firm_id=tenants.firm_id))
        if route.writes and (status != 403 or error_code(body) != "permission_denied"):
            failures.append(f"{route}: a viewer's write answered {status} {body[:200]}")
        if not route.writes and error_code(body) == "business_not_found":
            failures.append(f"{route}: a member was told the business does not exist")
    assert not failures, "\n".join(failures)
    assert tenants.viewer.client.get(f"/api/businesses/{tenants.business_id}/members").status_code == 200


def test_a_firm_advisor_reaches_only_the_businesses_that_engaged_the_firm(
    routes: list[Route], tenants: Tenants
) -> None:
    client = tenants.firm_advisor.client
    listed = [entry["id"] for entry in client.get("/api/businesses").json()]
    assert listed == [tenants.business_id]
    clients = client.get(f"/api/firms/{tenants.firm_id}/clients").json()
    assert [entry["business_id"] for entry in clients] == [tenants.business_id]
    failures = []
    for route in routes:
        if route.scope != "business_id":
            continue
        other = call(client, route, route.url(business_id=tenants.unengaged_business_id))
        if other[0] != 404 or error_code(other[1]) != "business_not_found":
            failures.append(f"{route}: a business that never engaged the firm answered {other[0]} {other[1][:200]}")
        if not route.writes:
            status, body = call(client, route, route.url(business_id=tenants.business_id, firm_id=tenants.firm_id))
            if error_code(body) == "business_not_found" or status == 403:
                failures.append(f"{route}: the firm's client answered {status} {body[:200]}")
    assert not failures, "\n".join(failures)


def test_only_a_firms_admins_change_it(routes: list[Route], tenants: Tenants) -> None:
    failures = []
    for route in routes:
        if route.scope != "firm_id" or not route.writes:
            continue
        status, body = call(tenants.firm_advisor.client, route, route.url(firm_id=tenants.firm_id))
        if status != 403 or error_code(body) != "permission_denied":
            failures.append(f"{route}: a firm's advisor answered {status} {body[:200]}")
    assert not failures, "\n".join(failures)
