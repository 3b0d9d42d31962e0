"""Response headers that keep the server's origin safe from the files and data it serves.

Every response says ``X-Content-Type-Options: nosniff`` (a browser takes the declared type, never a
guess from the bytes) and carries a Content-Security-Policy: scripts only from the server's own files,
no plugins, and no framing by other sites. The Swagger UI page gets its one inline script allowed by
hash, nothing more; served files get a policy under which nothing runs at all.
"""

from __future__ import annotations

import base64
import hashlib
import re

_BASE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_POLICY = f"{_BASE_POLICY}; script-src 'self'; style-src 'self'"
# A served file (a product photo): nothing may run or load, even if a browser is led to open it as a page;
# the browser's own image viewer styles itself inline.
FILE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox"


def inline_script_policy(html: str) -> str:
    """The policy for a page whose inline ``<script>`` blocks (and only those) may run, by their sha256."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    ]
    return f"{_BASE_POLICY}; script-src 'self' {' '.join(hashes)}; style-src 'self' 'unsafe-inline'"


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response; ``policies`` maps path prefixes to
    their own Content-Security-Policy, the first that matches wins (others get ``PAGE_POLICY``)."""

    def __init__(self, app, *, policies: dict[str, str] | None = None) -> None:
        self.app = app
        self.policies = policies or {}

    def policy_for(self, path: str) -> str:
        """The Content-Security-Policy of ``path``."""
        return next((policy for prefix, policy in self.policies.items() if path.startswith(prefix)), PAGE_POLICY)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy_for(scope.get("path", "")).encode()

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"content-security-policy", policy),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
