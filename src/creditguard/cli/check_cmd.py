"""``creditguard check``: one credit check, printed for a person or as JSON."""

from __future__ import annotations

import sys
from datetime import date

import click

from creditguard.cli._common import EXIT_ERROR, echo_json, fail, open_guard, usage_exit_code
from creditguard.cli._unmask import disclose, unmask_log_of, unmask_option
from creditguard.errors import CreditGuardError, InvalidCodeError

#: Exit status by outcome, so scripts can branch without parsing output.
EXIT_BY_OUTCOME = {"allow": 0, "review": 3, "restrict": 4, "deny": 5}


@click.command()
@click.argument("code")
@click.option("--step", required=True, help="Workflow step, e.g. procurement.bid.")
@click.option("--region", required=True, help="6-digit division code, e.g. 320100.")
@click.option(
    "--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="Replay the check as of this date."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="CREDITGUARD_CONFIG",
    help="Config file (default: $CREDITGUARD_CONFIG; one of the two is required).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the decision as one JSON object (docs/cli-json.md).",
)
@unmask_option
def check(
    code: str,
    step: str,
    region: str,
    as_of: object,
    config_path: str | None,
    as_json: bool,
    unmask: bool,
) -> None:
    """Check CODE before STEP in REGION and print the decision.

    This is a query: it is journaled but opens no case (workflows open cases
    through the library's check, step and feedback calls).

    Exit status: 0 allow, 3 review, 4 restrict, 5 deny, 1 error, 2 usage
    (no configuration file, an unknown step).
    """
    day: date | None = as_of.date() if as_of is not None else None  # type: ignore[attr-defined]
    guard = open_guard(config_path)
    try:
        # A query from the command line is not a workflow step: it opens no case.
        decision = guard.check(code, step=step, region=region, as_of=day, open_case=False)
    except InvalidCodeError as exc:
        guard.close()
        fail(f"invalid code: {exc}")
    except CreditGuardError as exc:
        guard.close()
        fail(str(exc), code=usage_exit_code(exc))
    guard.close()
    if unmask:  # recorded before anything is shown, or nothing is shown
        disclose(
            unmask_log_of(guard.journal),
            command="check --unmask",
            subjects=[decision.subject_code],
            decision_id=decision.decision_id,
        )
    if as_json:
        from creditguard.masking import mask_decision_data

        data = decision.model_dump(mode="json")
        echo_json(data if unmask else mask_decision_data(data))
    else:
        click.echo(render(decision, unmask=unmask))
    sys.exit(EXIT_BY_OUTCOME.get(decision.outcome, EXIT_ERROR))


def render(decision: object, *, unmask: bool = False) -> str:
    """The human form of a decision: a headline, the measures, then the explanation.

    The subject's code is masked when it is a person's, unless ``unmask``.
    """
    from creditguard.explain import OUTCOME_LABELS, data_time
    from creditguard.masking import mask_name
    from creditguard.models import Decision

    assert isinstance(decision, Decision)
    d = decision
    subject = d.subject_code if unmask else d.subject_display
    head = f"{d.outcome.upper():8} {subject}  {d.step} @ {d.region}  ({OUTCOME_LABELS[d.outcome]})"
    lines = [click.style(head, bold=True)]
    if not d.verified:
        lines.append(f"UNVERIFIED: {d.degraded_reason}")
    if d.stale:
        age = f" ({d.stale_age_s:.0f} s old)" if d.stale_age_s is not None else ""
        lines.append(f"STALE: cached records{age} were used because a source failed")
    if d.replay_uses_current_status:
        lines.append(
            f"REPLAY: a record without status history was judged on {d.as_of} by today's status"
        )
    for am in d.measures:
        lines.append(f"  {am.code:8} {am.effect:20} {am.title}")
    for am in d.conditions:
        lines.append(f"  {am.code:8} {am.effect:20} {am.title}  (condition: commitment steps only)")
    for pm in d.possible_matches:
        name = pm.name if unmask or d.subject_kind != "person" else mask_name(pm.name)
        lines.append(f"  possible match for review: {name} ({pm.source})")
    loaded = data_time(d)
    as_of = loaded.strftime("%Y-%m-%d %H:%M") if loaded else "unknown"
    lines.append(f"  decision {d.decision_id}, list {d.list_region} v{d.list_version}")
    lines.append(f"  data as of {as_of} ({', '.join(p.source for p in d.provenance) or 'none'})")
    lines.append("")
    lines.append(d.explanation)
    return "\n".join(lines)
