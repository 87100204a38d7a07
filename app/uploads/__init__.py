"""Resumable uploads (tus 1.0.0): the protocol server, its state in the database, its write lock.

The protocol knows nothing about exams; the application plugs its rules in through `TusHooks`.
"""

from app.uploads.errors import ErrorSpec, TusError
from app.uploads.sql_state import SqlUploadState
from app.uploads.state import Upload, UploadState
from app.uploads.tus import CreateDecision, Caller, TusApp, TusConfig, TusHooks

__all__ = [
    "CreateDecision",
    "ErrorSpec",
    "Caller",
    "SqlUploadState",
    "TusApp",
    "TusConfig",
    "TusError",
    "TusHooks",
    "Upload",
    "UploadState",
]
