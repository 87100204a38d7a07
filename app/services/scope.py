"""Which exams a staff member may read: ops every exam, every other staff role only the exams assigned to it.

The scope is a clause for the query that finds the row (`.where(scope.covers(Exam.id))`), never a check after it:
an exam outside it, and its sessions, sittings, candidates, reviews and pictures, are simply not found (404)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import QueryableAttribute

from app.models import StaffExam, StaffRole, StaffUser


@dataclass(frozen=True, slots=True)
class ExamScope:
    staff_id: uuid.UUID | None  # None: every exam

    def covers(self, exam_id: QueryableAttribute[uuid.UUID]) -> ColumnElement[bool]:
        """A clause true for the rows whose exam (the column `exam_id`) is in the scope."""
        if self.staff_id is None:
            return true()
        return exam_id.in_(select(StaffExam.exam_id).where(StaffExam.staff_id == self.staff_id))


EVERY_EXAM = ExamScope(None)
"""Ops, and callers that are not staff (the CLI, a candidate reading their own exam)."""


def of_staff(staff: StaffUser) -> ExamScope:
    # Only ops are unscoped: a role added later (a grader) starts with no exam rather than with all of them.
    return EVERY_EXAM if staff.role is StaffRole.ops else ExamScope(staff.id)
