"""reports_api as its unit tests drive it: tokens, the login form, the CSRF token a page hands out."""

from __future__ import annotations

import re

from bionicflow.reports import auth

PERIOD = {"from": "2026-09-20", "to": "2026-11-21"}


def bearer(settings, user):
    return {"Authorization": f"Bearer {auth.issue_dev_token(settings, user)}"}


def form_token(page: str) -> str:
    """The CSRF token a page gave its forms."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, user: str, password: str | None = None, **kwargs):
    """The login form filled in and sent, as a browser does (its CSRF token included)."""
    token = form_token(client.get("/").text)
    return client.post("/login", data={"username": user, "password": password or f"{user}_password",
                                       "csrf_token": token}, **kwargs)
