"""MI errors as OpenSIPS sends them: a JSON-RPC error object with a code, a message and optional details.

The codes and texts are OpenSIPS's (mi/mi.h, mi/item.c, 3.6 and 4.0): the JSON-RPC 2.0 ones for protocol
problems, and plain numbers such as 404 ("Statistics Not Found") or 500 ("reload failed") for command
failures. `details` goes to the error's "data" member, as OpenSIPS's init_mi_error_extra() does.
"""
from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
SERVER_ERROR = -32000
AMBIGUOUS_METHOD = -32001

MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    SERVER_ERROR: "Server error",
    AMBIGUOUS_METHOD: "Method ambiguous",
}

# The "data" texts OpenSIPS attaches to -32602 / -32000 (mi/mi.h).
POSITIONAL_NOT_ALLOWED = "Command only supports named parameters"
AMBIGUOUS_CALL = "Ambiguous call, use named parameters instead"
PARAM_COUNT = "Too few or too many parameters"
PARAM_NAMES = "Named parameters do not match"
HANDLER_FAILED = "Command handler returned null"
PARAM_HANDLING = "Failed to handle parameter"


class MIError(Exception):
    """An MI command failed: the reply is the JSON-RPC error {code, message[, data]}.

    Raise it from a command handler: `raise MIError(404, "AOR not found")`. A code of the JSON-RPC table
    may leave the message out (`MIError(INVALID_PARAMS, details="Bad type for parameter 'level'")`).
    """

    def __init__(self, code: int, message: str | None = None, details: str | None = None):
        self.code = code
        self.message = message if message is not None else MESSAGES.get(code, "Server error")
        self.details = details
        super().__init__(f"{code} {self.message}" + (f" ({details})" if details else ""))

    def to_json(self) -> dict[str, Any]:
        """The "error" member of the reply, with OpenSIPS's key order."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["data"] = self.details
        return error


def invalid_params(details: str) -> MIError:
    return MIError(INVALID_PARAMS, details=details)
