"""Cases: initiate, respond, feed back (发起—响应—反馈, spec §6), as outbox items.

::

    facts     CaseOpened / CaseResponse / CaseFeedback, their outbox items, fact_of
    planning  plan_feedback: one FeedbackEntry per applied measure
    book      PlatformCase, CaseBook, SqliteCaseBook: platform cases this unit accepted
    recorder  CaseRecorder: writes the facts to the outbox before returning;
              OpenCase: a case with no feedback yet (resume after a crash)

Core knows these facts only; the configured platform's channel
(:mod:`creditguard.channels`) turns them into requests when delivering.
"""

from creditguard.cases.book import CaseBook, PlatformCase, SqliteCaseBook
from creditguard.cases.facts import (
    ACTION_BY_EFFECT,
    ACTIONS,
    CaseFact,
    CaseFeedback,
    CaseOpened,
    CaseResponse,
    case_id_for,
    case_id_for_application,
    fact_of,
    feedback_item,
    initiation_item,
    response_item,
)
from creditguard.cases.planning import FeedbackEntry, plan_feedback
from creditguard.cases.recorder import CaseRecorder, OpenCase

__all__ = [
    "ACTIONS",
    "ACTION_BY_EFFECT",
    "CaseBook",
    "CaseFact",
    "CaseFeedback",
    "CaseOpened",
    "CaseRecorder",
    "CaseResponse",
    "FeedbackEntry",
    "OpenCase",
    "PlatformCase",
    "SqliteCaseBook",
    "case_id_for",
    "case_id_for_application",
    "fact_of",
    "feedback_item",
    "initiation_item",
    "plan_feedback",
    "response_item",
]
