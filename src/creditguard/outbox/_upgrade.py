"""Rows written by creditguard 0.1 become facts when the outbox opens.

creditguard 0.1 stored each item as the request it would send: ``method``
``"POST"``, ``path`` ``/v1/cases``, ``/v1/cases/{id}/responses`` or
``/v1/cases/{id}/feedback``, ``body`` the JSON of spec §6. This release
stores facts (``method`` ``"fact"``) that the platform's channel turns into
requests. An outbox that still holds such rows is upgraded in place, in the
transaction that opens it: each row keeps its id (so its order within its
case), its idempotency key (the platform dedupes by it) and its state; only
its payload, format and topic change. The payload is the fact the same
request came from, so the channel builds the same body again.

A row that cannot be read stays as it was and, unless it was delivered, is
dead-lettered with a reason that names it; a row that the previous release
of this one dead-lettered only because it could not read the old format
(it never reached the platform) is converted and queued again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import unquote

from creditguard.outbox._item import encode_payload

__all__ = ["LEGACY_FORMAT", "LegacyRowError", "legacy_index", "legacy_payload", "upgrade_rows"]

log = logging.getLogger("creditguard.outbox")

#: ``method`` of every row creditguard 0.1 wrote (it stored the HTTP method there).
LEGACY_FORMAT = "POST"


def legacy_index(table: str) -> str:
    """A partial index of the rows still to upgrade: empty once upgraded, so opening stays cheap."""
    return (
        f"CREATE INDEX IF NOT EXISTS {table}_legacy ON {table} (id) "
        f"WHERE method = '{LEGACY_FORMAT}'"
    )


#: ``last_error`` prefix of an item the deliverer refused before sending anything
#: (see :mod:`creditguard.outbox._deliver`): such a dead letter never reached the platform.
_NOT_SENT = "cannot build the request:%"

_CASES = "/v1/cases"


class LegacyRowError(ValueError):
    """A creditguard 0.1 row that cannot be read as a fact."""


def _case_of_path(path: str, tail: str) -> str:
    prefix, suffix = f"{_CASES}/", f"/{tail}"
    if not (path.startswith(prefix) and path.endswith(suffix)):
        raise LegacyRowError(f"path {path!r} is not {_CASES}/{{case_id}}{suffix}")
    case_id = unquote(path[len(prefix) : -len(suffix)])
    if not case_id or "/" in case_id:
        raise LegacyRowError(f"path {path!r} names no case")
    return case_id


def _need(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...] = str) -> Any:
    if name not in body:
        raise LegacyRowError(f"its body has no {name!r}")
    value = body[name]
    if not isinstance(value, kind):
        raise LegacyRowError(f"its body's {name!r} is {type(value).__name__}")
    return value


def _strings(value: Sequence[Any], name: str) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        raise LegacyRowError(f"its body's {name!r} holds something other than text")
    return tuple(value)


def legacy_payload(kind: str, group: str | None, path: str, body: bytes) -> bytes:
    """The fact payload of a creditguard 0.1 row (its request body and path).

    Raises :class:`LegacyRowError` naming what is wrong when the row holds
    no case request this release can read back.
    """
    # Imported here: creditguard.cases builds on the outbox, not the other way round.
    from creditguard.cases.facts import CaseFeedback, CaseOpened, CaseResponse

    try:
        data = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise LegacyRowError(f"its body is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise LegacyRowError("its body is not a JSON object")
    fact: CaseOpened | CaseResponse | CaseFeedback
    if kind == "case":
        if path != _CASES:
            raise LegacyRowError(f"a case initiation with path {path!r}")
        fact = CaseOpened(
            case_id=_need(data, "case_id"),
            unit_code=_need(data, "unit_code"),
            subject_code=_need(data, "subject_code"),
            record_ids=_strings(_need(data, "record_ids", list), "record_ids"),
            step=_need(data, "step"),
            region=_need(data, "region"),
            initiated_at=_need(data, "initiated_at"),
        )
    elif kind == "response":
        declined: list[tuple[str, str]] = []
        for entry in _need(data, "declined_measures", list):
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("code"), str)
                and isinstance(entry.get("reason"), str)
            ):
                raise LegacyRowError("its body's 'declined_measures' holds an unreadable entry")
            declined.append((entry["code"], entry["reason"]))
        fact = CaseResponse(
            case_id=_case_of_path(path, "responses"),
            unit_code=_need(data, "unit_code"),
            accepted=_strings(_need(data, "accepted_measures", list), "accepted_measures"),
            declined=tuple(declined),
            responded_at=_need(data, "responded_at"),
        )
    elif kind == "feedback":
        ref = data.get("workflow_ref")
        if ref is not None and not isinstance(ref, str):
            raise LegacyRowError("its body's 'workflow_ref' is not text")
        fact = CaseFeedback(
            case_id=_case_of_path(path, "feedback"),
            unit_code=_need(data, "unit_code"),
            measure_code=_need(data, "measure_code"),
            step=_need(data, "step"),
            action=_need(data, "action"),
            detail=_need(data, "detail"),
            decided_at=_need(data, "decided_at"),
            workflow_ref=ref,
        )
    else:
        raise LegacyRowError(f"creditguard 0.1 wrote no items of kind {kind!r}")
    if group is not None and group != fact.case_id:
        raise LegacyRowError(f"it is filed under case {group!r} but is about {fact.case_id!r}")
    return encode_payload(asdict(fact))


def upgrade_rows(
    execute: Callable[[str, Sequence[object]], Any], table: str, mark: str, *, now: float
) -> int:
    """Convert every creditguard 0.1 row of ``table`` to a fact, in the caller's transaction.

    ``execute(sql, params)`` runs one statement and returns a cursor;
    ``mark`` is the backend's placeholder (``?`` or ``%s``). Returns how
    many rows were converted. Cheap when there is nothing to do: the rows
    are found through a partial index holding only legacy rows.
    """
    p = mark
    # The literal (not a parameter) lets SQLite use the partial index LEGACY_INDEX.
    rows = execute(
        f"SELECT id, kind, grp, path, body, state, last_error FROM {table} "
        f"WHERE method = '{LEGACY_FORMAT}' ORDER BY id",
        (),
    ).fetchall()
    converted = 0
    for item_id, kind, grp, path, body, state, last_error in rows:
        try:
            payload = legacy_payload(str(kind), grp, str(path), bytes(body))
        except LegacyRowError as exc:
            reason = (
                f"outbox row {item_id} ({kind} {path}, written by creditguard 0.1) "
                f"cannot be read as a fact: {exc}"
            )
            if state != "delivered" and last_error != reason:
                execute(
                    f"UPDATE {table} SET state = 'dead', done_at = {p}, last_error = {p}, "
                    f"lease_owner = NULL, lease_until = NULL WHERE id = {p}",
                    (now, reason, item_id),
                )
                log.warning("%s; dead-lettered", reason)
            continue
        topic = f"{kind} of {grp}" if grp else str(kind)
        execute(
            f"UPDATE {table} SET method = 'fact', path = {p}, body = {p} WHERE id = {p}",
            (topic, payload, item_id),
        )
        # Dead-lettered by the release that could not read the old format: never sent.
        execute(
            f"UPDATE {table} SET state = 'pending', attempts = 0, next_at = {p}, done_at = NULL, "
            f"last_error = NULL WHERE id = {p} AND state = 'dead' AND last_status IS NULL "
            f"AND last_error LIKE {p}",
            (now, item_id, _NOT_SENT),
        )
        converted += 1
    if converted:
        log.warning(
            "outbox: %d item(s) written by creditguard 0.1 converted to facts "
            "(same idempotency keys, same order)",
            converted,
        )
    return converted
