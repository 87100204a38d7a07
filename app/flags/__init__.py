"""Flags found in a sitting's recordings, and the sitting's risk score.

A low-level package like app.face: no database, no services. ``analysis.analyze`` reads one recording (main or aux)
sample by sample and returns its flags; ``risk.risk`` scores every flag of a sitting, whatever produced it. Importing
this package is cheap: PyAV, OpenCV and the face engine load only with ``app.flags.analysis``.
"""

from __future__ import annotations

# Bump when the same recording would give other flags (a threshold default, a measure, the sampling): stored results
# of another version are analysed again.
ANALYZER_VERSION = "2"

# The kinds the recording analysis finds (main: all; aux: several_faces and poor_video).
NO_FACE = "no_face"
SEVERAL_FACES = "several_faces"
DIFFERENT_PERSON = "different_person"
LOOKING_AWAY = "looking_away"
POOR_VIDEO = "poor_video"
AUDIO_SILENT = "audio_silent"
RECORDING_KINDS = (NO_FACE, SEVERAL_FACES, DIFFERENT_PERSON, LOOKING_AWAY, POOR_VIDEO, AUDIO_SILENT)
ROLES = ("main", "aux")


class VideoUnreadable(Exception):
    """The file cannot be analysed: not a video, no video track, truncated or corrupt. ``reason`` says which, in
    English, without the file's path (it is stored with the failed job and shown to ops)."""

    code = "video_unreadable"
    message = "无法读取录像：不是视频文件、没有视频轨道，或文件不完整、已损坏"
    message_en = "The recording cannot be read: not a video, no video track, or truncated or damaged"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def body(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, "message_en": self.message_en, "details": {"reason": self.reason}}}
