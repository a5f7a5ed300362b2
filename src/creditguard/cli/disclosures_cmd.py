"""``creditguard disclosures …``: prepare, withdraw, and list those past their deadline (spec §11)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import click

from creditguard.cli._common import echo_json, fail

__all__ = ["disclosures"]


@click.group()
def disclosures() -> None:
    """Disclosures of penalties and listings (失信信息公示, spec §11)."""


@disclosures.command()
@click.option("--as-of", "as_of", help="The day to judge (default today, China Standard Time).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="creditguard.toml (default $CREDITGUARD_CONFIG).",
)
def overdue(as_of: str | None, as_json: bool, config: str | None) -> None:
    """List disclosures and withdrawals past their deadline; exit 1 when there are any."""
    from creditguard.cli.lifecycle_cmd import open_lifecycle
    from creditguard.errors import CreditGuardError
    from creditguard.supervision.disclosure import DisclosureDesk

    try:
        day = None if as_of is None else date.fromisoformat(as_of)
    except ValueError:
        fail(f"--as-of must be YYYY-MM-DD, got {as_of!r}")
    lc = open_lifecycle(config)
    try:
        desk = DisclosureDesk(lc.store, lc.outbox, unit_code=lc.unit_code, config=lc.config)
        late = desk.overdue(as_of=day)
    except CreditGuardError as exc:
        fail(str(exc))
    finally:
        lc.close()
    if as_json:
        echo_json({"overdue": [o.to_dict() for o in late]})
    else:
        for o in late:
            click.echo(f"{o.disclosure_id}  {o.what}  due {o.deadline}  {o.why}")
        if not late:
            click.echo("no disclosure is overdue")
    if late:
        raise SystemExit(1)


_config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="creditguard.toml (default $CREDITGUARD_CONFIG).",
)

#: Keys of a disclosure file: DisclosureDesk.prepare's arguments.
_DATE_KEYS = ("decided_on", "publish_until")
_KEYS = frozenset(
    {
        "disclosure_id",
        "kind",
        "subject",
        "decision_no",
        "decided_on",
        "authority",
        "content",
        "publish_until",
        "public",
        "record_id",
        "person_names",
        "fields",
        "trade_secrets",
        "channel",
        "region",
    }
)


def _read_disclosure(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(f"{path}: not JSON ({exc})")
    if not isinstance(data, dict):
        fail(f"{path}: must hold one JSON object (the disclosure)")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        fail(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    for key in _DATE_KEYS:
        if key not in data:
            fail(f"{path}: {key} (YYYY-MM-DD) is required")
        try:
            data[key] = date.fromisoformat(str(data[key]))
        except ValueError:
            fail(f"{path}: {key} must be YYYY-MM-DD, got {data[key]!r}")
    return data


def _shown(d: Any) -> dict[str, Any]:
    """A stored disclosure as operators may see it: the masked request, never the raw code."""
    body = dict(d.body)
    return {
        "disclosure_id": d.disclosure_id,
        "kind": d.kind,
        "region": d.region,
        "decided_on": d.decided_on,
        "prepared_on": d.prepared_on,
        "publish_by": d.publish_by,
        "request": body.get("request"),
        "mask_log": body.get("mask_log", []),
        "channel": body.get("channel"),
        "withdrawal": None if d.withdrawal is None else dict(d.withdrawal),
        "withdraw_by": d.withdraw_by,
        "withdrawn_on": d.withdrawn_on,
    }


@disclosures.command()
@click.option(
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False),
    help="JSON object: disclosure_id, kind, subject, decision_no, decided_on, authority, "
    "content, publish_until, and optionally public, record_id, person_names, fields, "
    "trade_secrets, channel, region.",
)
@click.option("--channel", help="Publication channel (its working days in disclosure_days).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_config_option
def prepare(path: str, channel: str | None, as_json: bool, config: str | None) -> None:
    """Mask, date and queue a disclosure of a penalty or listing (notice 893 §4, spec §11.1).

    Prints the publication deadline (working days after the decision) and what
    was masked; a non-public record or an uncovered year is refused and
    nothing is stored.
    """
    from creditguard.cli.lifecycle_cmd import open_lifecycle
    from creditguard.errors import CreditGuardError
    from creditguard.supervision.disclosure import DisclosureDesk

    args = _read_disclosure(path)
    if channel is not None:
        args["channel"] = channel
    lc = open_lifecycle(config)
    try:
        desk = DisclosureDesk(lc.store, lc.outbox, unit_code=lc.unit_code, config=lc.config)
        stored = desk.prepare(**args)
    except CreditGuardError as exc:
        fail(str(exc))
    except TypeError as exc:  # a value of the wrong shape (a list where text belongs…)
        fail(f"{path}: {exc}")
    finally:
        lc.close()
    shown = _shown(stored)
    if as_json:
        echo_json(shown)
        return
    click.echo(f"{stored.disclosure_id}  publish by {stored.publish_by}")
    for entry in shown["mask_log"]:
        click.echo(f"  masked {entry['field']}: {entry['how']}")


@disclosures.command()
@click.argument("disclosure_id")
@click.option(
    "--reason",
    required=True,
    type=click.Choice(["penalty_revoked", "penalty_changed", "repaired", "expired", "other"]),
    help="Why the publication ends (spec §11.2).",
)
@click.option(
    "--decided-on",
    "decided_on",
    required=True,
    help="Day of the decision that changed or revoked the penalty, YYYY-MM-DD.",
)
@click.option("--detail", default="", help="Free text sent with the withdrawal.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_config_option
def withdraw(
    disclosure_id: str,
    reason: str,
    decided_on: str,
    detail: str,
    as_json: bool,
    config: str | None,
) -> None:
    """Withdraw the publication DISCLOSURE_ID (spec §11.2).

    The withdrawal is due within withdrawal_days (3) working days of the
    decision that changed or revoked the penalty; it is queued for the
    platform after the publication.
    """
    from creditguard.cli.lifecycle_cmd import open_lifecycle
    from creditguard.errors import CreditGuardError
    from creditguard.supervision.disclosure import DisclosureDesk

    try:
        day = date.fromisoformat(decided_on)
    except ValueError:
        fail(f"--decided-on must be YYYY-MM-DD, got {decided_on!r}")
    lc = open_lifecycle(config)
    try:
        desk = DisclosureDesk(lc.store, lc.outbox, unit_code=lc.unit_code, config=lc.config)
        stored = desk.withdraw(disclosure_id, reason=reason, decided_on=day, detail=detail)
    except CreditGuardError as exc:
        fail(str(exc))
    finally:
        lc.close()
    if as_json:
        echo_json(_shown(stored))
        return
    click.echo(f"{stored.disclosure_id}  withdrawal queued, due by {stored.withdraw_by}")
