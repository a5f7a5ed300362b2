"""The officer's web page (经办人工作台): check an application, show the decision, record the action.

A Flask application (see README.md for why Flask). :func:`create_app` takes a
``Guard`` the caller built and closes; :func:`app_from_config` builds one from
``creditguard.toml`` with the push webhook mounted at ``/webhook``.

Pages (Chinese interface; resident ID numbers are always masked):

* ``GET /`` — the form: case number, applicant code, step, region.
* ``POST /check`` — ``guard.check``; the decision is stored; redirect (303) to its page.
* ``GET /decisions/<id>`` — outcome, verified or not, data age, records,
  measures with their legal basis, the applicant-facing explanation, the
  officer's actions so far and the action form.
* ``POST /decisions/<id>/actions`` — the officer's action, audited (who, when,
  what, why) and fed back to the platform with ``guard.feedback``:

  ========== =============================================================
  proceed    按核查结果办理: refused on deny and on unverified data
  refuse     不予办理: every applied measure fed back ``denied``
  override   推翻核查结果: needs a written justification; only on verified
             decisions with measures; each measure fed back ``not_applied``
             with the justification and the officer's name
  recheck    重新核查: forget cached records, check again, new decision page
  ========== =============================================================

Only creditguard's public API is used, plus the webhook receiver and its
store (``creditguard.webhook``, ``creditguard.push_feed``), as
``examples/webhook_app.py`` does.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, abort, redirect, render_template, request, session, url_for
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from creditguard import Decision, Guard
from creditguard.channels import Channel, PushEvent
from creditguard.errors import InputError
from creditguard.masking import mask_name, mask_text

__all__ = ["ACTIONS", "ActionRefused", "ConsoleStore", "app_from_config", "create_app"]

HERE = Path(__file__).parent

#: The officer's actions and how the page names them.
ACTIONS: dict[str, str] = {
    "proceed": "按核查结果办理",
    "refuse": "不予办理",
    "override": "推翻核查结果",
    "recheck": "重新核查",
}
#: Steps offered in the form; any step the guard knows may also be typed in.
STEP_CHOICES: dict[str, str] = {
    "licensing.accept": "行政许可受理",
    "licensing.approve": "行政许可决定",
    "licensing.commitment": "告知承诺制审批",
    "procurement.bid": "政府采购投标",
    "subsidy.apply": "财政资金补贴申请",
    "honors.nominate": "评先评优推荐",
}
OUTCOME_TEXT = {
    "allow": "予以通过",
    "review": "转人工审查",
    "restrict": "予以限制",
    "deny": "不予通过",
}
EFFECT_TEXT = {
    "deny": "禁止",
    "restrict": "限制",
    "strict_review": "重点审查",
    "no_commitment": "不适用告知承诺制",
    "increase_inspection": "提高检查频次",
    "notify": "提示",
}
LIST_TEXT = {"blacklist": "严重失信主体名单", "focus": "重点关注名单"}
STATUS_TEXT = {
    "listed": "列入",
    "rectifying": "整改中",
    "rectified": "已整改",
    "repaired": "已修复",
    "removed": "已移出",
}
LEVEL_TEXT = {
    "law": "法律",
    "administrative_regulation": "行政法规",
    "local_regulation": "地方性法规",
    "departmental_rule": "部门规章",
    "local_rule": "地方政府规章",
    "judicial_interpretation": "司法解释",
    "policy_document": "党中央、国务院政策文件",
    "normative_document": "规范性文件",
}
#: A written justification shorter than this is not one.
MIN_JUSTIFICATION = 10


class ActionRefused(Exception):
    """The officer's action cannot be taken on this decision (shown on the page, 409)."""


class ConsoleStore:
    """Decisions shown and the officers' actions, in one SQLite file (created 0600).

    The decision is kept whole (its subject code unmasked) because feedback
    needs it; the file is owner-only, as creditguard's own stores are.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        with self._db() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS decisions (
                    decision_id TEXT PRIMARY KEY, ref TEXT NOT NULL,
                    decision TEXT NOT NULL, checked_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS actions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, decision_id TEXT NOT NULL,
                    ref TEXT NOT NULL, subject TEXT NOT NULL, action TEXT NOT NULL,
                    officer TEXT NOT NULL, justification TEXT NOT NULL,
                    fed_back INTEGER NOT NULL, at TEXT NOT NULL);
                """
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path)
            try:
                with db:
                    yield db
            finally:
                db.close()

    def save(self, ref: str, decision: Decision) -> None:
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO decisions VALUES (?, ?, ?, ?)",
                (decision.decision_id, ref, decision.model_dump_json(), _now()),
            )

    def load(self, decision_id: str) -> tuple[str, Decision] | None:
        with self._db() as db:
            row = db.execute(
                "SELECT ref, decision FROM decisions WHERE decision_id = ?", (decision_id,)
            ).fetchone()
        return None if row is None else (row[0], Decision.model_validate_json(row[1]))

    def record(
        self, decision: Decision, ref: str, action: str, officer: str, why: str, fed_back: int
    ) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO actions (decision_id, ref, subject, action, officer, justification,"
                " fed_back, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (decision.decision_id, ref, decision.subject_display, action, officer, why,
                 fed_back, _now()),
            )  # fmt: skip

    def actions(self, decision_id: str) -> list[dict[str, Any]]:
        """The audit trail of one decision, oldest first."""
        with self._db() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM actions WHERE decision_id = ? ORDER BY id", (decision_id,)
            ).fetchall()
        return [dict(r) for r in rows]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def data_time(decision: Decision) -> datetime | None:
    """When the data behind the decision was last loaded ("数据截至"): the oldest source's."""
    times = [p.data_as_of or p.fetched_at for p in decision.provenance if p.error is None]
    return min(times, default=None)


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "未能取得数据"
    seconds = max(0.0, (now - since).total_seconds())
    if seconds < 60:
        return "不足 1 分钟"
    if seconds < 3600:
        return f"约 {int(seconds // 60)} 分钟"
    if seconds < 86400:
        return f"约 {int(seconds // 3600)} 小时"
    return f"约 {int(seconds // 86400)} 天"


def perform(guard: Guard, decision: Decision, ref: str, action: str, why: str, officer: str) -> int:
    """Feed the officer's action back; returns how many feedback items were written.

    Raises :class:`ActionRefused` (nothing written) when the action does not fit the decision.
    """
    if action == "proceed":
        if not decision.verified:
            raise ActionRefused("信用信息未能核验，不能据此办理；请重新核查，或不予办理。")
        if decision.outcome == "deny":
            raise ActionRefused("核查结果为不予通过；如确有依据，请以“推翻核查结果”书面说明理由。")
        return len(guard.feedback(decision, workflow_ref=ref))
    if action == "refuse":
        detail = "经办人不予办理" + (f"：{why}" if why else "")
        actions: dict[str, str | tuple[str, str]] = {m.code: "denied" for m in decision.measures}
        return len(guard.feedback(decision, actions=actions, detail=detail, workflow_ref=ref))
    if action == "override":
        if not decision.verified:
            raise ActionRefused("信用信息未能核验，不能推翻；请重新核查。")
        if not decision.measures:
            raise ActionRefused("本次核查未适用任何惩戒措施，无需推翻。")
        if len(why) < MIN_JUSTIFICATION:
            raise ActionRefused(f"推翻核查结果须书面说明理由（不少于 {MIN_JUSTIFICATION} 个字）。")
        detail = f"经办人推翻核查结果：{why}（经办人：{officer}）"
        actions = {m.code: ("not_applied", detail) for m in decision.measures}
        return len(guard.feedback(decision, actions=actions, workflow_ref=ref))
    raise ActionRefused("未知的操作。")


def create_app(
    guard: Guard,
    *,
    store: ConsoleStore,
    secret_key: str | bytes | None = None,
    default_region: str = "320100",
    webhook: Callable[..., Any] | None = None,
) -> Flask:
    """The console as a Flask app; ``webhook`` (a WSGI app) is mounted at ``/webhook``."""
    app = Flask(__name__, template_folder=str(HERE / "templates"))
    app.secret_key = secret_key or secrets.token_bytes(32)
    app.config["guard"] = guard
    app.config["store"] = store

    def csrf_token() -> str:
        token = session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(24)
            session["csrf"] = token
        return token

    @app.before_request
    def check_csrf() -> None:
        # A page that records legal acts must not be driven by another site's form.
        if request.method == "POST" and request.form.get("csrf") != session.get("csrf"):
            abort(400, "页面已过期，请刷新后重试。")

    app.jinja_env.globals.update(
        csrf_token=csrf_token,
        STEP_CHOICES=STEP_CHOICES,
        OUTCOME_TEXT=OUTCOME_TEXT,
        EFFECT_TEXT=EFFECT_TEXT,
        LIST_TEXT=LIST_TEXT,
        STATUS_TEXT=STATUS_TEXT,
        LEVEL_TEXT=LEVEL_TEXT,
        ACTIONS=ACTIONS,
        mask=mask_text,
    )

    @app.get("/")
    def index() -> str:
        return render_template("index.html", region=default_region, error=None, form={})

    @app.post("/check")
    def check() -> Response | tuple[str, int]:
        form = {k: request.form.get(k, "").strip() for k in ("ref", "code", "step", "region")}
        if not form["ref"]:
            return render_template(
                "index.html", region=default_region, error="请填写申请编号。", form=form
            ), 400
        try:
            decision = guard.check(form["code"], step=form["step"], region=form["region"])
        except InputError as exc:  # bad code, unknown step: say what, change nothing
            return render_template(
                "index.html", region=default_region, error=mask_text(str(exc)), form=form
            ), 400
        store.save(form["ref"], decision)
        return redirect(url_for("show", decision_id=decision.decision_id), code=303)

    def page(decision_id: str, *, error: str | None = None, status: int = 200) -> tuple[str, int]:
        found = store.load(decision_id)
        if found is None:
            abort(404)
        ref, decision = found
        now = datetime.now(UTC)
        when = data_time(decision)
        html = render_template(
            "decision.html",
            d=decision,
            ref=ref,
            subject=decision.subject_display,
            subject_name=(
                mask_name(decision.subject_name)
                if decision.subject_kind == "person"
                else decision.subject_name
            ),
            data_time=when,
            data_age=_age(when, now),
            actions=store.actions(decision_id),
            done=any(a["action"] != "recheck" for a in store.actions(decision_id)),
            error=error,
        )
        return html, status

    @app.get("/decisions/<decision_id>")
    def show(decision_id: str) -> tuple[str, int]:
        return page(decision_id)

    @app.post("/decisions/<decision_id>/actions")
    def act(decision_id: str) -> Response | tuple[str, int]:
        found = store.load(decision_id)
        if found is None:
            abort(404)
        ref, decision = found
        action = request.form.get("action", "")
        officer = (request.environ.get("REMOTE_USER") or request.form.get("officer", "")).strip()
        why = request.form.get("justification", "").strip()
        if not officer:
            return page(decision_id, error="请填写经办人。", status=400)
        if action not in ACTIONS:
            return page(decision_id, error="请选择一项操作。", status=400)
        if action == "recheck":
            guard.invalidate(decision.subject_code)
            fresh = guard.check(decision.subject_code, step=decision.step, region=decision.region)
            store.save(ref, fresh)
            store.record(decision, ref, "recheck", officer, why, 0)
            return redirect(url_for("show", decision_id=fresh.decision_id), code=303)
        if any(a["action"] != "recheck" for a in store.actions(decision_id)):
            return page(decision_id, error="该核查结果已办理，不能重复操作。", status=409)
        try:
            fed_back = perform(guard, decision, ref, action, why, officer)
        except ActionRefused as refused:
            return page(decision_id, error=str(refused), status=409)
        store.record(decision, ref, action, officer, why, fed_back)
        return redirect(url_for("show", decision_id=decision_id), code=303)

    if webhook is not None:
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/webhook": webhook})  # type: ignore[method-assign]
    return app


def make_webhook(guard: Guard, channel: Channel, state_path: Path) -> Callable[..., Any]:
    """The project's webhook receiver; a stored push makes the next check fetch afresh."""
    from creditguard.push_feed import FeedState
    from creditguard.webhook import make_wsgi_app

    def on_stored(event: PushEvent) -> None:
        if event.subject_code:
            guard.invalidate(event.subject_code)

    return make_wsgi_app(channel=channel, store=FeedState(state_path), on_stored=on_stored)


def app_from_config(path: str | None = None) -> Flask:
    """The console for ``creditguard.toml`` (or ``$CREDITGUARD_CONFIG``), webhook included.

    ``OFFICER_CONSOLE_SECRET`` keeps sessions valid across restarts and workers.
    """
    from creditguard.channels import open_channel

    guard = Guard.from_config(path)
    data_dir = guard.config.data_dir
    channel = open_channel(guard.config)
    webhook = make_webhook(guard, channel, data_dir / "sync-state.db") if channel else None
    return create_app(
        guard,
        store=ConsoleStore(data_dir / "officer-console.db"),
        secret_key=os.environ.get("OFFICER_CONSOLE_SECRET"),
        webhook=webhook,
    )


def _main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="creditguard officer console (example)")
    parser.add_argument("--config", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    app_from_config(args.config).run(host=args.host, port=args.port)


if __name__ == "__main__":
    _main()
