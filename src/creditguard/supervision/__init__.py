"""The supervision lifecycle of listed subjects (notice 893 §§2–4, 8–13, 19).

::

    packs       dated rule packs: notice 893's lifecycle rules, repair rules over time
    lifecycle   Lifecycle: rectification, interviews, commitments, training, reports,
                consulting, responsible persons, repair — each step checked, stored, shared
    recorder    EventRecorder: one step on one listing held, its events stored and queued
    repair      RepairAssessment: may a subject apply for repair now, what is missing
    events      SupervisionEvent (spec §10) and its outbox item
    disclosure  Disclosures (spec §11): deadlines in working days, masking, withdrawal
    history     a subject's events for people, persons masked
    report      evaluation figures per region (§19)
    store       the store's queries; store_sqlite the embedded file (owner-only),
                store_pg PostgreSQL (beside a PostgreSQL outbox)

See docs/supervision.md.
"""

from creditguard.supervision.errors import NoRuleSetConfigured, RuleBroken, UnknownListing
from creditguard.supervision.events import EVENT_TYPES, SupervisionEvent, event_item, event_of
from creditguard.supervision.lifecycle import Lifecycle, RepairAssessment, supervision_store_path
from creditguard.supervision.packs import (
    LIFECYCLE_PACKS,
    NOTICE_893,
    REPAIR_PACKS,
    LifecyclePack,
    RepairPack,
    lifecycle_pack_for,
    repair_pack_for,
)
from creditguard.supervision.store import Listing, StoredDisclosure, SupervisionStore
from creditguard.supervision.store_sqlite import SqliteSupervisionStore

__all__ = [
    "EVENT_TYPES",
    "LIFECYCLE_PACKS",
    "NOTICE_893",
    "REPAIR_PACKS",
    "Lifecycle",
    "LifecyclePack",
    "Listing",
    "NoRuleSetConfigured",
    "RepairAssessment",
    "RepairPack",
    "RuleBroken",
    "SqliteSupervisionStore",
    "StoredDisclosure",
    "SupervisionEvent",
    "SupervisionStore",
    "UnknownListing",
    "event_item",
    "event_of",
    "lifecycle_pack_for",
    "repair_pack_for",
    "supervision_store_path",
]
