"""Who may use the Admin tab: one password from the environment, compared in constant time.

The gate is checked by every admin action on the server, not only when the tab
is unlocked, so calling an admin endpoint directly without the password fails
the same way. With no password configured the admin actions refuse everything.
"""

from __future__ import annotations

import hmac


class AdminRefused(PermissionError):
    """The caller did not present the admin password (or none is configured)."""


class AdminGate:
    def __init__(self, password: str) -> None:
        self._password = password.encode("utf-8")

    @property
    def configured(self) -> bool:
        return bool(self._password)

    def allows(self, attempt: str | None) -> bool:
        """True only for the configured password (constant-time comparison; never when unset)."""
        if not self._password or not attempt:
            return False
        return hmac.compare_digest(self._password, attempt.encode("utf-8"))

    def require(self, attempt: str | None) -> None:
        if not self.configured:
            raise AdminRefused("The Admin tab is disabled: set ARENA_ADMIN_PASSWORD to enable it.")
        if not self.allows(attempt):
            raise AdminRefused("Wrong admin password.")
