"""ORM models; importing this package registers every table on Base.metadata."""

from app.models.accounts import AuthToken, LoginAttempt, Role, StaffExam, StaffRole, StaffUser
from app.models.audit import AuditLog, PhaseAnnouncement
from app.models.candidates import Candidate
from app.models.exams import Exam, Notice
from app.models.faces import EnrolmentSource, FaceCheck, FaceEnrolment, FacePurpose, FaceReview, ReviewDecision
from app.models.proctoring import Interruption, PairingToken, ProctorEvent
from app.models.recordings import Recording, RecordingStatus
from app.models.sessions import ExamSession, Question, SessionKind
from app.models.sittings import Device, DeviceRole, Sitting
from app.uploads.models import UploadRow

__all__ = [
    "AuditLog",
    "AuthToken",
    "Candidate",
    "Device",
    "DeviceRole",
    "EnrolmentSource",
    "Exam",
    "FaceCheck",
    "FaceEnrolment",
    "FacePurpose",
    "FaceReview",
    "Interruption",
    "ExamSession",
    "LoginAttempt",
    "Notice",
    "PairingToken",
    "PhaseAnnouncement",
    "ProctorEvent",
    "Question",
    "Recording",
    "RecordingStatus",
    "ReviewDecision",
    "Role",
    "SessionKind",
    "Sitting",
    "StaffExam",
    "StaffRole",
    "StaffUser",
    "UploadRow",
]
