"""Local admin paths for realms: list, create from a demo scenario, inspect, reset (no auth: local use only)."""

from __future__ import annotations

from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .config import Scenario
from .rules.realm import ENTITIES, Realm
from .store import Store

SCENARIOS: tuple[str, ...] = get_args(Scenario)


def _summary(realm: Realm) -> dict[str, Any]:
    company = realm.get("CompanyInfo", "1") or {}
    return {
        "realm_id": realm.realm_id,
        "company_name": company.get("CompanyName", ""),
        "scenario": realm.scenario,
        "seed": realm.seed,
        "size": realm.size,
        "counts": {entity: realm.count(entity) for entity in ENTITIES},
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def realm_admin_routes(store: Store) -> list[BaseRoute]:
    async def list_realms(_request: Request) -> Response:
        realms = [store.realm(rid) for rid in store.realm_ids()]
        return JSONResponse(
            {
                "default_realm_id": store.default_realm_id,
                "realms": [_summary(realm) for realm in realms if realm is not None],
            }
        )

    async def create_realm(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(422, 'body must be JSON: {"scenario": ..., "seed": ..., "size": ...}')
        if not isinstance(body, dict):
            return _error(422, "body must be a JSON object")
        scenario = body.get("scenario", store.config.scenario)
        seed = body.get("seed", store.config.seed)
        size = body.get("size")
        if scenario not in SCENARIOS:
            return _error(422, f"scenario must be one of {', '.join(SCENARIOS)}")
        if not isinstance(seed, int) or isinstance(seed, bool):
            return _error(422, "seed must be an integer")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
            return _error(422, "size must be a positive integer or null")
        try:
            realm = store.create_realm(scenario=scenario, seed=seed, size=size)
        except ValueError as error:  # e.g. a size too small for 12-18 months of books
            return _error(422, str(error))
        return JSONResponse(_summary(realm), status_code=201)

    async def get_realm(request: Request) -> Response:
        realm = store.realm(request.path_params["realm_id"])
        if realm is None:
            return _error(404, "no such realm")
        return JSONResponse(_summary(realm))

    async def reset_realm(request: Request) -> Response:
        realm_id = request.path_params["realm_id"]
        if store.realm(realm_id) is None:
            return _error(404, "no such realm")
        return JSONResponse(_summary(store.reset_realm(realm_id)))

    return [
        Route("/_sandbox/realms", list_realms, methods=["GET"]),
        Route("/_sandbox/realms", create_realm, methods=["POST"]),
        Route("/_sandbox/realms/{realm_id}", get_realm, methods=["GET"]),
        Route("/_sandbox/realms/{realm_id}/reset", reset_realm, methods=["POST"]),
    ]
