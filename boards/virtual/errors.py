"""Errors of the virtual board API. Every message says what to do."""

from ..catalog import BoardError


class VBoardError(BoardError):
    """Something about a virtual board cannot be done (unknown board, wrong state, ...)."""


class HostNotRunning(VBoardError):
    """No vboard host (daemon or in-process farm) serves this VBOARD_HOME."""


class ExpectTimeout(VBoardError, TimeoutError):
    """expect() did not see its pattern on the console in time."""

    def __init__(self, message, tail=""):
        self.tail = tail
        super().__init__(message)

    def __str__(self):
        # what the board printed last is what a reader of a failed test needs first
        base = super().__str__()
        return base + ("\n--- console tail ---\n" + self.tail[-1500:] if self.tail else "")


ERRORS = {c.__name__: c for c in (VBoardError, HostNotRunning, ExpectTimeout, BoardError)}
