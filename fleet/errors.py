"""Typed errors of the fleet's Python API.

Domain code raises these; the HTTP layer turns them into JSON errors
({"error": {"code", "message"}, "time"}) and the CLI into a one-line message.
Device-protocol refusals use devproto.ProtocolError instead, because their codes
and statuses are part of the protocol.
"""

import math


class FleetError(Exception):
    code = "error"
    status = 400

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Invalid(FleetError):
    """Input that breaks a rule (bad role, bad config value, bad duration...)."""
    code = "invalid"
    status = 422


class NotFound(FleetError):
    code = "not_found"
    status = 404


class Conflict(FleetError):
    """The request clashes with the current state (user exists, device revoked...)."""
    code = "conflict"
    status = 409


class Unauthorized(FleetError):
    """No valid login or API token."""
    code = "unauthorized"
    status = 401


class Forbidden(FleetError):
    """Logged in, but the role may not do this."""
    code = "forbidden"
    status = 403


class TooManyAttempts(FleetError):
    """Refused without looking: too many failures from here (fleet.domain.throttle).
    `retry_after`: whole seconds to wait (sent as the Retry-After header)."""
    code = "rate_limited"
    status = 429

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))
