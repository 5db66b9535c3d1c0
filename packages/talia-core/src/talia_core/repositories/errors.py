"""SQL errors of the write API (SQLSTATE class TA) as typed exceptions."""

from __future__ import annotations

from typing import Final

import psycopg

from talia_core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TaliaError,
)


class InvalidRecord(BadRequest):
    code = "invalid_record"
    message = "The database refused the values."


class ActionForbidden(Forbidden):
    code = "action_forbidden"
    message = "You may not do that."


class RecordNotFound(NotFound):
    code = "record_not_found"
    message = "The record does not exist."


class RecordConflict(Conflict):
    code = "record_conflict"
    message = "Another record already holds that value."


class TextTooLong(PayloadTooLarge):
    code = "text_too_long"
    message = "The text is longer than allowed."


_BY_SQLSTATE: Final[dict[str, type[TaliaError]]] = {
    "TA400": InvalidRecord,
    "TA403": ActionForbidden,
    "TA404": RecordNotFound,
    "TA409": RecordConflict,
    "TA413": TextTooLong,
}


def translate(exc: psycopg.Error) -> TaliaError | None:
    """The typed error for a write-API failure, or None when it is not one of ours.

    A function that names the rule it enforces (`raise ... using constraint = 'name'`) gives
    the error that code, so a client can tell one conflict from another.
    """
    error_class = _BY_SQLSTATE.get(exc.sqlstate or "")
    if error_class is None:
        return None
    message = exc.diag.message_primary or error_class.message
    return error_class(message, code=exc.diag.constraint_name)
