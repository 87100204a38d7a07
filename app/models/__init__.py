"""ORM models; importing this package registers every table on Base.metadata."""

from app.models.accounts import AuthToken, LoginAttempt, Role, StaffExam, StaffRole, StaffUser
from app.models.audit import AuditLog, PhaseAnnouncement
from app.models.candidates import Candidate
from app.models.exams import Exam, Notice
from app.models.grading import GradeSheet, GradingCode, GradingPlan, ResultPublication, ScoreOverride, SessionGrader
from app.models.flags import AnalysisJob, AnalysisStatus, Flag, FlagSource
from app.models.faces import EnrolmentSource, FaceCheck, FaceEnrolment, FacePurpose, FaceReview, ReviewDecision
from app.models.proctoring import Interruption, PairingToken, ProctorEvent
from app.models.recordings import Recording, RecordingStatus
from app.models.reviews import Decision, DecisionStatus, FlagVerdict, Incident, Outcome, ReviewClaim, Verdict
from app.models.sessions import ExamSession, Question, SessionKind
from app.models.sittings import Device, DeviceRole, Sitting
from app.uploads.models import UploadRow

__all__ = [
    "SessionGrader",
    "ScoreOverride",
    "ResultPublication",
    "GradingPlan",
    "GradingCode",
    "GradeSheet",
    "AnalysisJob",
    "AnalysisStatus",
    "AuditLog",
    "AuthToken",
    "Candidate",
    "Decision",
    "DecisionStatus",
    "Device",
    "DeviceRole",
    "EnrolmentSource",
    "Exam",
    "ExamSession",
    "FaceCheck",
    "FaceEnrolment",
    "FacePurpose",
    "FaceReview",
    "Flag",
    "FlagSource",
    "FlagVerdict",
    "Incident",
    "Interruption",
    "LoginAttempt",
    "Notice",
    "Outcome",
    "PairingToken",
    "PhaseAnnouncement",
    "ProctorEvent",
    "Question",
    "Recording",
    "RecordingStatus",
    "ReviewClaim",
    "ReviewDecision",
    "Role",
    "SessionKind",
    "Sitting",
    "StaffExam",
    "StaffRole",
    "StaffUser",
    "UploadRow",
    "Verdict",
]
