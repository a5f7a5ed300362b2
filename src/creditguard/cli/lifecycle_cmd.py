"""``creditguard lifecycle …``: the supervision lifecycle of a listed subject (docs/supervision.md).

Each subcommand records one step as the configured unit (``[guard] unit_code``),
stores it and queues it for the platform. A step that breaks a rule exits 1
naming the rule; with no rule set configured for the date it says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import click

from creditguard.cli._common import echo_json, fail, usage_exit_code

__all__ = ["lifecycle", "open_lifecycle"]

_config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="creditguard.toml (default $CREDITGUARD_CONFIG).",
)
_record_option = click.option(
    "--record", "record_id", required=True, help="The record id (spec §4)."
)
_at_option = click.option(
    "--at",
    "at",
    help="When it happened (ISO date-time with offset; default now, China Standard Time).",
)


def open_lifecycle(config: str | None) -> Any:
    """The configured :class:`~creditguard.supervision.Lifecycle`, or exit 2 saying why."""
    from creditguard.config import load_config
    from creditguard.errors import CreditGuardError
    from creditguard.supervision import Lifecycle

    try:
        return Lifecycle.from_config(load_config(config, required=True))
    except CreditGuardError as exc:
        fail(str(exc), code=usage_exit_code(exc))


def _when(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        fail(f"--at must be an ISO date-time such as 2026-03-02T10:00:00+08:00, got {at!r}")
    if when.tzinfo is None:
        fail("--at needs a UTC offset (+08:00 for China Standard Time)")
    return when


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{name} must be YYYY-MM-DD, got {text!r}")


def _run(config: str | None, step: Callable[[Any], Any], as_json: bool = True) -> None:
    from creditguard.errors import CreditGuardError
    from creditguard.masking import mask_data

    lc = open_lifecycle(config)
    try:
        result = step(lc)
    except CreditGuardError as exc:
        fail(str(exc))
    finally:
        lc.close()
    events = result if isinstance(result, list) else [result]
    out = [
        {"event_id": e.event_id, "type": e.type, "record_id": e.record_id, "at": e.at}
        for e in events
    ]
    echo_json(mask_data({"events": out}))


@click.group()
def lifecycle() -> None:
    """Record supervision steps for listed subjects (notice 893 §§2–3, 8–13)."""


@lifecycle.command()
@click.argument("code")
@click.option(
    "--record-file",
    "record_file",
    type=click.File("rb"),
    required=True,
    help="The record as JSON (spec §4).",
)
@_config_option
def register(code: str, record_file: Any, config: str | None) -> None:
    """Put CODE's record under supervision (as the platform gave it)."""
    from creditguard.errors import CreditGuardError
    from creditguard.models import CreditRecord

    try:
        record = CreditRecord.model_validate(json.loads(record_file.read()))
    except ValueError as exc:
        fail(f"{record_file.name}: not a credit record: {exc}")
    lc = open_lifecycle(config)
    try:
        listing = lc.register(code, record)
    except CreditGuardError as exc:
        fail(str(exc))
    finally:
        lc.close()
    click.echo(f"registered {listing.record.record_id} ({listing.record.list_kind})")


@lifecycle.command()
@_record_option
@click.option("--requirements", required=True, help="What the subject must do.")
@click.option("--deadline", required=True, help="Rectification deadline, YYYY-MM-DD.")
@click.option("--public/--not-public", default=True, help="Whether the order is published.")
@_at_option
@_config_option
def order(
    record_id: str,
    requirements: str,
    deadline: str,
    public: bool,
    at: str | None,
    config: str | None,
) -> None:
    """限期整改: order rectification with a deadline."""
    dl = _day(deadline, "--deadline")
    _run(
        config,
        lambda lc: lc.order_rectification(
            record_id, requirements=requirements, deadline=dl, public=public, at=_when(at)
        ),
    )


@lifecycle.command()
@_record_option
@click.option(
    "--on", "confirmed_on", required=True, help="Day the rectification was found complete."
)
@_at_option
@_config_option
def confirm(record_id: str, confirmed_on: str, at: str | None, config: str | None) -> None:
    """整改到位: confirm the rectification (the record's status stays the platform's)."""
    day = _day(confirmed_on, "--on")
    _run(config, lambda lc: lc.confirm_rectification(record_id, confirmed_on=day, at=_when(at)))


@lifecycle.command()
@_at_option
@_config_option
def overdue(at: str | None, config: str | None) -> None:
    """Record rectification.overdue for every deadline passed without confirmation."""
    _run(config, lambda lc: lc.mark_overdue(at=_when(at)))


@lifecycle.command()
@_record_option
@click.option(
    "--kind",
    type=click.Choice(["prompt", "warning"]),
    required=True,
    help="提示性 (prompt) or 警示性 (warning).",
)
@click.option("--name", required=True, help="The attendee's name.")
@click.option(
    "--role", required=True, help="responsible_person, legal_representative, or self for a person."
)
@click.option(
    "--refused",
    "refused_detail",
    help="Record a refusal or non-cooperation with this detail instead.",
)
@_at_option
@_config_option
def interview(
    record_id: str,
    kind: str,
    name: str,
    role: str,
    refused_detail: str | None,
    at: str | None,
    config: str | None,
) -> None:
    """约谈: the one interview after a missed deadline, or its refusal."""
    if refused_detail is not None:
        _run(
            config,
            lambda lc: lc.record_interview_refusal(
                record_id, kind=kind, detail=refused_detail, at=_when(at)
            ),
        )
        return
    _run(
        config,
        lambda lc: lc.hold_interview(
            record_id, kind=kind, attendee={"name": name, "role": role}, at=_when(at)
        ),
    )


@lifecycle.command()
@_record_option
@click.option(
    "--text-file",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help="The commitment's text.",
)
@click.option("--url", required=True, help="Where it was published.")
@_at_option
@_config_option
def commitment(
    record_id: str, text_file: Any, url: str, at: str | None, config: str | None
) -> None:
    """信用承诺: record a published written commitment (its SHA-256)."""
    text = text_file.read()
    _run(
        config, lambda lc: lc.make_commitment(record_id, text=text, published_url=url, at=_when(at))
    )


@lifecycle.command()
@_record_option
@click.option("--commitment", "commitment_id", required=True, help="The commitment's event id.")
@click.option("--detail", required=True, help="How it was broken.")
@_at_option
@_config_option
def breach(
    record_id: str, commitment_id: str, detail: str, at: str | None, config: str | None
) -> None:
    """Report a breach of a commitment."""
    _run(
        config,
        lambda lc: lc.report_breach(
            record_id, commitment_event_id=commitment_id, detail=detail, at=_when(at)
        ),
    )


@lifecycle.command()
@_record_option
@click.option("--hours", type=float, required=True, help="Class hours (学时).")
@click.option("--organizer", required=True, help="Who held the training.")
@click.option("--name", required=True, help="The attendee's name.")
@click.option(
    "--role", required=True, help="responsible_person, legal_representative, or self for a person."
)
@_at_option
@_config_option
def training(
    record_id: str,
    hours: float,
    organizer: str,
    name: str,
    role: str,
    at: str | None,
    config: str | None,
) -> None:
    """信用修复培训 of the principal responsible person."""
    person = {"name": name, "role": role}
    _run(
        config,
        lambda lc: lc.record_training(
            record_id, hours=hours, organizer=organizer, attendee=person, at=_when(at)
        ),
    )


@lifecycle.command("credit-report")
@_record_option
@click.option("--agency", required=True, help="The credit-service agency's code.")
@click.option("--report-no", required=True, help="The report's number.")
@_at_option
@_config_option
def credit_report(
    record_id: str, agency: str, report_no: str, at: str | None, config: str | None
) -> None:
    """信用报告 by a qualified agency (an important reference)."""
    _run(
        config,
        lambda lc: lc.record_report(
            record_id, agency_code=agency, report_no=report_no, at=_when(at)
        ),
    )


@lifecycle.command()
@_record_option
@click.option("--topic", required=True, help="What the guidance was about.")
@click.option("--organizer", required=True, help="Who gave it.")
@click.option("--hours", type=float, required=True, help="Hours.")
@_at_option
@_config_option
def consulting(
    record_id: str, topic: str, organizer: str, hours: float, at: str | None, config: str | None
) -> None:
    """信用管理咨询/辅导 given to the subject."""
    _run(
        config,
        lambda lc: lc.record_consulting(
            record_id, topic=topic, organizer=organizer, hours=hours, at=_when(at)
        ),
    )


@lifecycle.command()
@_record_option
@click.option("--code", "person_code", required=True, help="The person's resident identity number.")
@click.option("--name", required=True, help="The person's name.")
@click.option(
    "--role",
    type=click.Choice(["legal_representative", "responsible_person", "related_person"]),
    required=True,
    help="The role held at the time of listing.",
)
@_at_option
@_config_option
def person(
    record_id: str, person_code: str, name: str, role: str, at: str | None, config: str | None
) -> None:
    """Name a person held to account for an organisation's listing (notice §8)."""
    _run(
        config,
        lambda lc: lc.name_responsible_person(
            record_id, code=person_code, name=name, role=role, at=_when(at)
        ),
    )
