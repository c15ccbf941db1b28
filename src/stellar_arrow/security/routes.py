"""HTTP routes of the security layer: the dashboard's session login and API key administration.

``POST /api/v1/session`` (credential in ``Authorization`` or ``X-API-Key``) sets the session cookie;
``DELETE /api/v1/session`` clears it. With authentication on, ``/api/v1/admin/api-keys`` creates
(``POST``, the key is in the answer once), lists (``GET``) and revokes (``DELETE .../{key_id}``) keys;
the middleware has already required the ``admin`` permission for these paths.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from stellar_arrow.errors import AuthenticationError, RequestError
from stellar_arrow.security.authenticator import Credential
from stellar_arrow.security.client_certs import client_certificate_subject
from stellar_arrow.security.http import ApiSecurity, session_cookie
from stellar_arrow.security.keystore import ApiKeyStore, parse_duration
from stellar_arrow.security.session import SESSION_COOKIE

__all__ = ["build_security_router"]

_CREATE_FIELDS = ("key_id", "roles", "description", "expires_in")


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _problem(status: int, title: str, detail: str) -> Response:
    body = json.dumps({"status": status, "title": title, "detail": detail})
    return Response(body, status_code=status, media_type="application/problem+json")


def build_security_router(security: ApiSecurity) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["security"])
    settings = security.settings

    @router.post("/session", summary="Log in the browser: a credential header in, a session cookie out")
    def login(request: Request) -> Response:
        if not security.authenticator.enabled:
            return _json({"subject": "anonymous", "roles": ["admin"], "auth_enabled": False})
        peer = client_certificate_subject(request.scope) if settings.client_ca_file else None
        credential = Credential(
            request.headers.get("authorization"), request.headers.get("x-api-key"), peer_identity=peer
        )
        try:
            principal = security.authenticator.authenticate(credential, where="POST /api/v1/session")
        except AuthenticationError as exc:
            response = _problem(401, "Unauthorized", str(exc))
            response.headers["www-authenticate"] = 'Bearer realm="stellar-arrow"'
            return response
        assert security.sessions is not None  # authentication on: there is a key store
        value, expires = security.sessions.issue(principal)
        response = _json(
            {
                "subject": principal.subject,
                "kind": principal.kind,
                "roles": list(principal.roles),
                "expires_at": expires,
            }
        )
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=max(1, int(expires - security.sessions.now())),
            path="/",
            httponly=True,
            samesite="strict",
            secure=settings.tls_enabled,
        )
        return response

    @router.delete("/session", summary="Log out the browser (ends the session, clears the cookie)")
    def logout(request: Request) -> Response:
        cookie = session_cookie(request.scope)
        if cookie is not None and security.sessions is not None:
            security.sessions.end(cookie)
        response = _json({"logged_out": True})
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=settings.tls_enabled
        )
        return response

    if not security.authenticator.enabled or security.authenticator.store is None:
        return router
    store: ApiKeyStore = security.authenticator.store

    @router.post("/admin/api-keys", status_code=201, summary="Create an API key (answered once, never again)")
    async def create_key(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            msg = "body must be a JSON object"
            raise RequestError(msg, field="body") from None
        if not isinstance(body, dict):
            msg = "body must be a JSON object"
            raise RequestError(msg, field="body")
        unknown = sorted(set(body) - set(_CREATE_FIELDS))
        if unknown:
            msg = f"unknown field(s) {unknown}: use {', '.join(_CREATE_FIELDS)}"
            raise RequestError(msg, field=unknown[0])
        key_id: Any = body.get("key_id")
        roles: Any = body.get("roles")
        description, expires_in = body.get("description", ""), body.get("expires_in")
        for name, value, kind in (
            ("key_id", key_id, str),
            ("roles", roles, list),
            ("description", description, str),
        ):
            if not isinstance(value, kind):
                msg = f"{name} must be a {kind.__name__}"
                raise RequestError(msg, field=name)
        if expires_in is not None and not isinstance(expires_in, str):
            msg = "expires_in must be a duration such as 90d or 12h"
            raise RequestError(msg, field="expires_in")
        try:
            seconds = None if expires_in is None else parse_duration(expires_in)
        except ValueError as exc:
            raise RequestError(str(exc), field="expires_in") from None
        try:
            record, key = store.create(key_id, roles, description=description, expires_in_s=seconds)
        except ValueError as exc:
            field = "roles" if "role" in str(exc) else "key_id" if "key id" in str(exc) else "description"
            raise RequestError(str(exc), field=field) from None
        return _json({**record.as_json(store.now()), "api_key": key}, status=201)

    @router.get("/admin/api-keys", summary="API keys (ids, roles, state; never the keys)")
    def list_keys() -> Response:
        now = store.now()
        return _json({"api_keys": [record.as_json(now) for record in store.records()]})

    @router.delete("/admin/api-keys/{key_id}", summary="Revoke an API key at once, everywhere")
    def revoke_key(key_id: str) -> Response:
        try:
            record = store.revoke(key_id)
        except KeyError:
            return _problem(404, "Not Found", f"no API key with id {key_id[:64]!r}")
        return _json(record.as_json(store.now()))

    return router
