"""Durable audit log of moderation decisions (journal + SQL store); see ``pipelines.audit.log``."""

from pipelines.audit.config import AuditConfig, FailMode
from pipelines.audit.log import AuditLog
from pipelines.audit.record import Action, AuditRecord, Direction, content_digest

__all__ = ["Action", "AuditConfig", "AuditLog", "AuditRecord", "Direction", "FailMode", "content_digest"]
