"""Tower's tables, one module per area. Every change comes with a migration in
storage/migrations/versions."""

from sqlmodel import SQLModel

from storage.tables.core import (  # noqa: F401 - the public names
    AuditEntry,
    Candidate,
    Operation,
    OutboundMessage,
    Person,
    Project,
    Release,
    Transition,
    UTCDateTime,
)
from storage.tables.crew import Away, CrewSeat, Page, RosterMember  # noqa: F401
from storage.tables.deploys import (  # noqa: F401
    Announcement,
    CIDelivery,
    Deployment,
    HealthSample,
    LocalRun,
    Simmer,
)
from storage.tables.inbound import TakenRequest  # noqa: F401
from storage.tables.installation import Installation, LeaderHeartbeat  # noqa: F401
from storage.tables.scope import ChecklistItem, CommitCheck, Feature, Milestone, TestResult  # noqa: F401

metadata = SQLModel.metadata
