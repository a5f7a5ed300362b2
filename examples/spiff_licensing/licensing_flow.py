"""A licensing process run by SpiffWorkflow, with creditguard checking before each task.

``licensing.bpmn`` draws the process; this module is the glue an integrator
copies. It plugs creditguard into SpiffWorkflow's own extension point, the
**script engine**:

* every ``serviceTask`` whose operator is ``creditguard.check`` calls
  :meth:`CreditScriptEngine.call_service`, which checks the applicant for the
  step named in the task's ``step`` parameter and stores the answer in the
  task data as ``credit`` (route, outcome, verified, the decision itself);
  the gateway after it routes on ``credit['route']``;
* a guarded task's ``postScript`` ``creditguard_feedback()`` runs when the task
  completes and reports the step to the platform through ``Guard.feedback``;
  the manual-review task's ``creditguard_review_feedback()`` reports a refusal.

Routes, and why (the rule above all: never approve on data that could not be
verified):

============== ==========================================================
``proceed``    verified, outcome allow or restrict: the task may run
``deny``       outcome deny: the process ends "不予许可"; fed back at once
``manual_review`` outcome review, or *any* unverified answer (platform down,
               old data, a failed source): a person in the manual-review lane
               decides; "proceed" on unverified data only re-checks
``no_commitment`` on the commitment step, a no_commitment measure: the
               applicant goes through the normal procedure; fed back at once
============== ==========================================================

Only creditguard's public API is used (``Guard``, ``Decision``, the errors).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from creditguard import Decision, Guard
from creditguard.errors import RecordsUnavailable, SourceError

__all__ = [
    "BPMN_FILE",
    "CHECK_OPERATOR",
    "PROCESS_ID",
    "CreditScriptEngine",
    "LicensingProcess",
    "route_for",
]

BPMN_FILE = Path(__file__).with_name("licensing.bpmn")
PROCESS_ID = "licensing"
#: The service-task operator name the BPMN file uses for a credit check.
CHECK_OPERATOR = "creditguard.check"


def route_for(decision: Decision) -> str:
    """Which way the gateway after a check goes (see the module docstring)."""
    if decision.outcome == "deny":
        return "deny"
    if not decision.verified:
        # Fail closed: whatever the step's failure policy made of it, a person decides.
        return "manual_review"
    if decision.outcome == "review":
        effects = {m.effect for m in decision.measures}
        if effects and effects <= {"no_commitment", "notify", "increase_inspection"}:
            return "no_commitment"
        return "manual_review"
    return "proceed"


def _unverified(step: str, reason: str) -> dict[str, Any]:
    """The ``credit`` value when the check itself could not be made."""
    return {
        "step": step,
        "route": "manual_review",
        "outcome": "review",
        "verified": False,
        "reason": reason,
        "decision": None,
    }


class CreditScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """SpiffWorkflow's script engine with creditguard's check and feedback plugged in.

    ``region`` is the licensing authority's region code. The application
    (``{"ref", "code", ...}``) is read from the task data key ``application``.
    """

    def __init__(self, guard: Guard, *, region: str) -> None:
        super().__init__(environment=TaskDataEnvironment())
        self.guard = guard
        self.region = region

    # --- service tasks: the check before a task -------------------------------------
    def call_service(self, task: Any, **kwargs: Any) -> str:
        operation = kwargs.get("operation_name")
        if operation != CHECK_OPERATOR:
            raise ValueError(
                f"unknown service operator {operation!r} in task {task.task_spec.name}"
            )
        params: Mapping[str, Mapping[str, Any]] = kwargs.get("operation_params") or {}
        step = str(params["step"]["value"])
        application = task.data["application"]
        try:
            decision = self.guard.check(application["code"], step=step, region=self.region)
        except (SourceError, RecordsUnavailable) as exc:
            # The step's policy said "raise", or a source failed outright: not knowing is
            # never a pass. Bad input (InputError) propagates: the task errors, nothing runs.
            return json.dumps(_unverified(step, type(exc).__name__), ensure_ascii=False)
        route = route_for(decision)
        if route in ("deny", "no_commitment"):
            # The step is refused by the check itself, as Guard.step does on deny:
            # report now (denied / commitment_refused, by each measure's effect).
            self.guard.feedback(decision, workflow_ref=application.get("ref"))
        credit = {
            "step": step,
            "route": route,
            "outcome": decision.outcome,
            "verified": decision.verified,
            "reason": decision.degraded_reason,
            "decision": decision.model_dump(mode="json"),
        }
        return json.dumps(credit, ensure_ascii=False)

    # --- scripts: feedback when a task completes ------------------------------------
    def execute(
        self, task: Any, script: str, external_context: dict[str, Any] | None = None
    ) -> Any:
        context = dict(external_context or {})
        context["creditguard_feedback"] = lambda: self._feedback(task)
        context["creditguard_review_feedback"] = lambda: self._review_feedback(task)
        return super().execute(task, script, context)

    def _feedback(self, task: Any) -> None:
        """The guarded task completed: report each applied measure by its effect."""
        decision = _decision(task)
        if decision is not None:
            self.guard.feedback(decision, workflow_ref=task.data["application"].get("ref"))

    def _review_feedback(self, task: Any) -> None:
        """The manual reviewer refused: every applied measure is reported ``denied``."""
        decision = _decision(task)
        if decision is None or task.data.get("review_verdict") != "refuse":
            return
        note = str(task.data.get("review_note") or "").strip()
        detail = "经人工审查不予许可" + (f"：{note}" if note else "")
        actions: dict[str, str | tuple[str, str]] = {
            m.code: ("denied", detail) for m in decision.measures
        }
        self.guard.feedback(
            decision, actions=actions, workflow_ref=task.data["application"].get("ref")
        )


def _decision(task: Any) -> Decision | None:
    credit = task.data.get("credit") or {}
    data = credit.get("decision")
    return None if data is None else Decision.model_validate(data)


class LicensingProcess:
    """One application going through ``licensing.bpmn``.

    ``application`` holds ``ref`` (the case number, sent as ``workflow_ref``),
    ``code`` (the applicant's unified social credit code or ID number) and
    ``by_commitment`` (the applicant chose approval by commitment).
    """

    def __init__(self, guard: Guard, application: Mapping[str, Any], *, region: str) -> None:
        parser = SpiffBpmnParser()
        parser.add_bpmn_file(str(BPMN_FILE))
        spec = parser.get_spec(PROCESS_ID)
        self.workflow = BpmnWorkflow(spec, script_engine=CreditScriptEngine(guard, region=region))
        start = self.workflow.get_tasks(state=TaskState.READY)[0]
        start.data["application"] = dict(application)
        self.workflow.do_engine_steps()

    def ready(self) -> list[tuple[str, str | None]]:
        """The user tasks waiting for a person: ``(task id, lane name)``."""
        return [
            (t.task_spec.bpmn_id, _lane_name(t))
            for t in self.workflow.get_tasks(state=TaskState.READY, manual=True)
        ]

    def credit(self) -> dict[str, Any]:
        """The last check's answer as the waiting task sees it (``{}`` before any)."""
        tasks = self.workflow.get_tasks(state=TaskState.READY, manual=True)
        return dict(tasks[0].data.get("credit") or {}) if tasks else {}

    def complete(self, task_id: str, **data: Any) -> None:
        """Complete the waiting user task ``task_id`` with form ``data``; run to the next wait."""
        for task in self.workflow.get_tasks(state=TaskState.READY, manual=True):
            if task.task_spec.bpmn_id == task_id:
                task.data.update(data)
                task.run()
                self.workflow.do_engine_steps()
                return
        raise LookupError(f"no ready task {task_id!r}; ready: {self.ready()}")

    @property
    def path(self) -> list[str]:
        """Ids of the BPMN elements completed so far, in order (gateways and events too)."""
        done = [
            t
            for t in self.workflow.get_tasks(state=TaskState.COMPLETED)
            if t.task_spec.bpmn_id is not None
        ]
        done.sort(key=lambda t: t.last_state_change)
        return [t.task_spec.bpmn_id for t in done]

    @property
    def end(self) -> str | None:
        """The end event reached (``end_approved``, ``end_denied``, ``end_refused``), if any."""
        if not self.workflow.is_completed():
            return None
        ends = [p for p in self.path if p.startswith("end_")]
        return ends[-1] if ends else None


def _lane_name(task: Any) -> str | None:
    return task.task_spec.lane
