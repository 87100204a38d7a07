"""One error base, one catalogue, one handler.

Every error renders as {"error": {"code", "message" (zh-CN), "message_en", "details"?, "request_id"?}} and each route
declares the ones it can raise through ``responses(...)`` so the OpenAPI schema lists them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from app import face
from app.face import FaceError
from app.logs import request_id


class ErrorBody(BaseModel):
    code: str
    message: str
    message_en: str
    details: Any | None = None
    # The id of the request that failed (its X-Request-ID): what a support call quotes to find the server's lines.
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class DualcamError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: ClassVar[str] = "请求有误"
    message_en: ClassVar[str] = "Bad request"
    # Errors normally roll the request back ("bad input changes nothing"). The few that must leave a
    # trace (a failed log-in counts toward the rate limit) set this, and the request scope commits.
    keeps_changes: ClassVar[bool] = False

    def __init__(self, *, details: Any | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(self.code)
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "message_en": self.message_en}
        if self.details is not None:
            error["details"] = self.details
        if (current := request_id.get()) is not None:
            error["request_id"] = current
        return {"error": error}


def _error(name: str, status: int, code: str, zh: str, en: str) -> type[DualcamError]:
    return type(name, (DualcamError,), {"status": status, "code": code, "message": zh, "message_en": en})


# --- request shape ---------------------------------------------------------------------------
MalformedJson = _error("MalformedJson", 400, "malformed_json", "请求体不是合法的 JSON", "The request body is not valid JSON")
MalformedMultipart = _error("MalformedMultipart", 400, "malformed_multipart", "上传内容不是合法的 multipart/form-data 表单", "The upload is not a valid multipart/form-data body")
ValidationFailed = _error("ValidationFailed", 422, "validation_error", "请求参数不符合要求", "The request parameters are invalid")
RouteNotFound = _error("RouteNotFound", 404, "not_found", "请求的地址不存在", "No such endpoint")
MethodNotAllowed = _error("MethodNotAllowed", 405, "method_not_allowed", "不支持该请求方法", "Method not allowed")
PayloadTooLarge = _error("PayloadTooLarge", 413, "payload_too_large", "上传内容过大", "The upload is too large")
# Answered by the HTTP protocol of `dualcam serve` (app.http_limits), before any route: declared on none.
HeadersTooLarge = _error("HeadersTooLarge", 431, "headers_too_large", "请求头过大", "The request headers are too large")

# --- auth ------------------------------------------------------------------------------------
NotAuthenticated = _error("NotAuthenticated", 401, "not_authenticated", "请先登录", "Please log in first")
InvalidToken = _error("InvalidToken", 401, "invalid_token", "登录已失效，请重新登录", "Your login has expired or was revoked; please log in again")
# A phone's token revoked because a newer phone logged in for its role: `details` say when and whom to call
# (replaced_at, timezone, role, support), so the phone can say so instead of retrying or asking to log in.
DeviceReplaced = _error("DeviceReplaced", 401, "device_replaced", "此设备已被另一台手机取代", "This phone was replaced by another phone")
Forbidden = _error("Forbidden", 403, "forbidden", "当前身份无权执行此操作", "Your role may not do this")
LoginFailed = _error("LoginFailed", 401, "login_failed", "账号或密码错误", "Wrong account or password")
LoginFailed.keeps_changes = True
ClientRateLimited = _error("ClientRateLimited", 429, "client_rate_limited", "来自您所在网络的请求过于频繁，请稍后再试", "Too many requests from your network; try again later")
TooManyLoginAttempts = _error("TooManyLoginAttempts", 429, "too_many_login_attempts", "登录失败次数过多，请稍后再试", "Too many failed log-in attempts; try again later")
ExamChoiceRequired = _error("ExamChoiceRequired", 409, "exam_choice_required", "该账号报名了多个考试，请选择考试后登录", "This account is on several exams; choose the exam to log in")
UsernameTaken = _error("UsernameTaken", 409, "username_taken", "用户名已被占用", "That username is taken")
WeakPassword = _error("WeakPassword", 422, "weak_password", "密码至少 8 位，且需包含字母和数字", "A password needs at least 8 characters with letters and digits")

# --- exams, sessions, questions, notices -------------------------------------------------------
ExamNotFound = _error("ExamNotFound", 404, "exam_not_found", "考试不存在", "No such exam")
SessionNotFound = _error("SessionNotFound", 404, "session_not_found", "场次不存在", "No such session")
QuestionNotFound = _error("QuestionNotFound", 404, "question_not_found", "试题不存在", "No such question")
NoticeNotFound = _error("NoticeNotFound", 404, "notice_not_found", "公告不存在", "No such notice")
CandidateNotFound = _error("CandidateNotFound", 404, "candidate_not_found", "考生不存在", "No such candidate")
SittingNotFound = _error("SittingNotFound", 404, "sitting_not_found", "考试记录不存在", "No such sitting")
StaffNotFound = _error("StaffNotFound", 404, "staff_not_found", "工作人员账号不存在", "No such staff account")
StaffNotAssigned = _error("StaffNotAssigned", 404, "staff_not_assigned", "该工作人员未被分配到此考试", "This staff member is not assigned to this exam")
StaffSeesAllExams = _error("StaffSeesAllExams", 409, "staff_sees_all_exams", "考务账号可查看全部考试，无需分配", "An ops account sees every exam; only other staff roles are assigned exams")
WindowOrder = _error("WindowOrder", 422, "window_order", "时间窗口顺序有误：须满足 候考开始 < 答题开始 < 答题结束 ≤ 上传截止", "Windows out of order: waiting opens < answer starts < answer ends <= upload deadline")
ConfirmWindowOrder = _error("ConfirmWindowOrder", 422, "confirm_window_order", "确认开始时间须早于确认截止时间", "The confirmation window must open before it closes")
SessionOverlap = _error("SessionOverlap", 409, "session_overlap", "与本考试的其他场次时间重叠", "The session overlaps another session of this exam")
SessionKindFields = _error("SessionKindFields", 422, "session_kind_fields", "练习场次只填时长；模拟和正式场次只填时间点", "Practice sessions take durations only; mock and formal sessions take times only")
SessionKindImmutable = _error("SessionKindImmutable", 409, "session_kind_immutable", "场次类型创建后不能修改", "A session's kind cannot change")
SessionStarted = _error("SessionStarted", 409, "session_started", "场次已开始候考，不能再修改时间或试题", "The session's waiting window has opened; its times and questions are frozen")
BadImage = _error("BadImage", 422, "bad_image", "图片格式不支持，请上传 JPEG 或 PNG", "Unsupported image: upload a JPEG or PNG")

# --- candidate path ------------------------------------------------------------------------------
ConfirmationNotOpen = _error("ConfirmationNotOpen", 409, "confirmation_not_open", "考试确认尚未开始", "Exam confirmation has not opened yet")
ConfirmationClosed = _error("ConfirmationClosed", 409, "confirmation_closed", "考试确认已截止", "Exam confirmation has closed")
IdentityCategoryMismatch = _error("IdentityCategoryMismatch", 422, "identity_category_mismatch", "所选身份类别与本考试不符", "The identity category does not match this exam")
ProvinceMismatch = _error("ProvinceMismatch", 422, "province_mismatch", "所选省份与本考试不符", "The province does not match this exam")
RulesNotAccepted = _error("RulesNotAccepted", 422, "rules_not_accepted", "请阅读并同意诚信承诺", "Please read and accept the conduct rules")
NotConfirmed = _error("NotConfirmed", 409, "exam_not_confirmed", "请先确认考试", "Confirm the exam first")
SelfRegistrationClosed = _error("SelfRegistrationClosed", 403, "self_registration_closed", "本考试不开放自行注册", "This exam does not allow self-registration")
AlreadyRegistered = _error("AlreadyRegistered", 409, "already_registered", "该证件号或手机号已在本考试名单中", "That ID number or phone is already on this exam's roster")
InvalidIdNumber = _error("InvalidIdNumber", 422, "invalid_id_number", "身份证号格式或校验位错误", "Invalid ID number (format or check digit)")
InvalidPhone = _error("InvalidPhone", 422, "invalid_phone", "手机号格式错误", "Invalid mobile phone number")
QuestionNotRevealed = _error("QuestionNotRevealed", 403, "question_not_revealed", "答题开始后才能查看试题", "The question is shown only once answering starts")
NotPractice = _error("NotPractice", 409, "not_practice", "只有练习场次可以随时开始", "Only practice sessions start on demand")
SittingClosed = _error("SittingClosed", 409, "sitting_closed", "本场考试已结束或已无法进入", "This sitting is over or can no longer be entered")

# --- devices, pairing, realtime -----------------------------------------------------------------
PairingTokenUnknown = _error("PairingTokenUnknown", 404, "pairing_token_unknown", "二维码无效，请在主机位重新生成", "Unknown pairing code; generate a new one on the main phone")
PairingTokenUsed = _error("PairingTokenUsed", 409, "pairing_token_used", "二维码已被使用，请在主机位重新生成", "This pairing code was already used; generate a new one on the main phone")
PairingTokenExpired = _error("PairingTokenExpired", 410, "pairing_token_expired", "二维码已过期，请在主机位重新生成", "This pairing code expired; generate a new one on the main phone")
PairingOtherCandidate = _error("PairingOtherCandidate", 403, "pairing_other_candidate", "该手机已登录为其他考生的设备，不能扫描此二维码", "This phone is logged in for another candidate and cannot use this pairing code")
# Two log-ins of one role at the same moment: the database keeps one active phone per role, the other is refused.
DeviceLoginConflict = _error("DeviceLoginConflict", 409, "device_login_conflict", "另一台手机正在同时登录此机位，请稍后重试", "Another phone is logging in for this camera at the same moment; try again")
MainDeviceOnly = _error("MainDeviceOnly", 403, "main_device_only", "只有主机位可以执行此操作（如生成配对二维码、结束答题）", "Only the main phone can do this (e.g. create a pairing code, stop answering)")
MalformedMessage = _error("MalformedMessage", 400, "malformed_message", "消息格式错误", "Malformed message")
UnknownMessageType = _error("UnknownMessageType", 400, "unknown_message_type", "未知的消息类型", "Unknown message type")
FrameTooLarge = _error("FrameTooLarge", 413, "frame_too_large", "消息过大", "Message too large")
NotYourDevice = _error("NotYourDevice", 403, "not_your_device", "消息中的设备或考生与当前登录不符", "The message names another device or candidate")
UnknownEventKind = _error("UnknownEventKind", 422, "unknown_event_kind", "未知的事件类型", "Unknown event kind")
DatabaseNotMigrated = _error("DatabaseNotMigrated", 503, "database_not_migrated", "数据库尚未迁移：请先运行 dualcam migrate（并使用与服务器相同的 DUALCAM_* 设置）", "The database is not migrated: run `dualcam migrate` first (with the same DUALCAM_* settings as the server)")
DatabaseUnreachable = _error("DatabaseUnreachable", 503, "database_unreachable", "无法连接数据库，请检查 DUALCAM_DATABASE_URL", "Cannot reach the database: check DUALCAM_DATABASE_URL")
# 409, not 429: the log of a sitting does not empty with time, so no later retry would be taken (a phone drops it).
EventLogFull = _error("EventLogFull", 409, "event_log_full", "本场考试记录的设备事件已达上限", "This sitting has recorded as many device events as it may")
# A realtime message that failed for a reason of ours: the phone may retry it; its socket stays open.
MessageFailed = _error("MessageFailed", 500, "internal_error", "服务器处理消息时出错，请稍后重试", "The server failed to handle this message; try again")

# --- recordings and uploads ----------------------------------------------------------------------
RecordingNotOpen = _error("RecordingNotOpen", 403, "recording_not_open", "答题开始后才能上传录像", "Recordings can be uploaded only once answering has started")
UploadDeadlinePassed = _error("UploadDeadlinePassed", 410, "upload_deadline_passed", "上传截止时间已过", "The upload deadline has passed")
SittingAbsent = _error("SittingAbsent", 403, "sitting_absent", "未按时完成候考，本场考试没有录像可上传", "This sitting missed the waiting room: there is no recording to upload")
RecordingNotYours = _error("RecordingNotYours", 403, "recording_not_yours", "只能上传本机位、本场考试的录像", "A phone can upload only its own sitting's recording for its own role")
RecordingNotFound = _error("RecordingNotFound", 404, "recording_not_found", "录像不存在", "No such recording")
RecordingNotFinished = _error("RecordingNotFinished", 409, "recording_not_finished", "录像尚未上传完成", "The recording has not been fully uploaded yet")
RecordingLinkInvalid = _error("RecordingLinkInvalid", 403, "recording_link_invalid", "录像链接无效", "Invalid recording link")
RecordingLinkExpired = _error("RecordingLinkExpired", 403, "recording_link_expired", "录像链接已过期，请重新打开", "The recording link has expired; open it again")
RangeNotSatisfiable = _error("RangeNotSatisfiable", 416, "range_not_satisfiable", "请求的范围超出录像大小", "The requested range is outside the recording")

# --- roster ----------------------------------------------------------------------------------------
RosterRejected = _error("RosterRejected", 422, "roster_rejected", "名单中有错误行，未导入任何考生", "The roster has rejected rows; nothing was imported")
RosterUnreadable = _error("RosterUnreadable", 422, "roster_unreadable", "名单文件无法读取（需为 CSV，且含表头：姓名、身份证号、手机号）", "Unreadable roster (a CSV with a header: name, id_number, phone)")
PhotoArchiveUnreadable = _error("PhotoArchiveUnreadable", 422, "photo_archive_unreadable", "照片压缩包无法读取（需为 zip）", "Unreadable photo archive (a zip is expected)")
PhotoArchiveTooLarge = _error("PhotoArchiveTooLarge", 413, "photo_archive_too_large", "照片压缩包过大：最多 10 万个文件，解压后最多 500 MB 且不超过压缩包自身大小的 2 倍加 10 MB（照片本身已压缩）；未导入任何考生", "The photo archive is too large: 100,000 files at most, unpacked at most 500 MB and at most twice its own size plus 10 MB (photos are compressed already); nothing was imported")

# --- conduct review ----------------------------------------------------------------------------------
FlagNotFound = _error("FlagNotFound", 404, "flag_not_found", "标记不存在", "No such flag")
DecisionNotFound = _error("DecisionNotFound", 404, "decision_not_found", "审核结论不存在", "No such decision")
SittingClaimed = _error("SittingClaimed", 409, "sitting_claimed", "该考生正由其他工作人员审核", "Another staff member is reviewing this sitting")
ClaimNotHeld = _error("ClaimNotHeld", 409, "claim_not_held", "您未认领该考生的审核", "You do not hold the claim on this sitting")
ReviewNotOpen = _error("ReviewNotOpen", 409, "review_not_open", "答题开始后才能审核", "A sitting can be reviewed once its answer window has started")
ReviewAlreadyDecided = _error("ReviewAlreadyDecided", 409, "review_already_decided", "该考生已有审核结论，如需更改请由考务重新打开", "This sitting is decided; ops can reopen it to change the decision")
ReviewAwaitingSecond = _error("ReviewAwaitingSecond", 409, "review_awaiting_second", "违规结论正等待另一位工作人员复核", "The violation awaits a second staff member's confirmation")
ReviewDisputed = _error("ReviewDisputed", 409, "review_disputed", "两位工作人员意见不一致，须由考务决定", "The two staff members disagree: ops decide")
DecisionNotAwaitingSecond = _error("DecisionNotAwaitingSecond", 409, "decision_not_awaiting_second", "该结论无需复核或已被取代", "This decision needs no second look, or it was superseded")
SecondSamePerson = _error("SecondSamePerson", 403, "second_same_person", "复核须由另一位工作人员完成", "The second look must be by another staff member")
NothingToReopen = _error("NothingToReopen", 409, "nothing_to_reopen", "该考生尚无审核结论", "This sitting has no decision to reopen")
ReasonCodeUnknown = _error("ReasonCodeUnknown", 422, "reason_code_unknown", "未知的违规原因代码", "Unknown reason code")
ViolationReasonRequired = _error("ViolationReasonRequired", 422, "violation_reason_required", "认定违规须至少选择一项原因", "A violation needs at least one reason code")
IncidentOutsideWindow = _error("IncidentOutsideWindow", 422, "incident_outside_window", "事件时间须在答题时间内", "An incident must be within the answer window")

# --- grading and results ---------------------------------------------------------------------------
GraderRoleRequired = _error("GraderRoleRequired", 409, "grader_role_required", "只有评分员账号可以分配评分场次", "Only a grader account can be given a session to grade")
GraderNotAssigned = _error("GraderNotAssigned", 404, "grader_not_assigned", "该评分员未被分配到此场次", "This grader is not assigned to this session")
GradersGetSessions = _error("GradersGetSessions", 409, "graders_get_sessions", "评分员按场次分配，看不到考试的名单与审核", "Graders are given sessions to grade, never an exam's roster or reviews")
SessionNotGraded = _error("SessionNotGraded", 409, "session_not_graded", "练习场次不评分", "Practice sessions are not graded")
RubricInvalid = _error("RubricInvalid", 422, "rubric_invalid", "评分标准有误", "The rubric is invalid")
RubricMissing = _error("RubricMissing", 409, "rubric_missing", "该场次尚未设置评分标准", "This session has no rubric yet")
RubricInUse = _error("RubricInUse", 409, "rubric_in_use", "已有评分提交，评分标准不能再修改", "Scores were submitted against this rubric: it can no longer change")
GradeSheetNotFound = _error("GradeSheetNotFound", 404, "grade_sheet_not_found", "评分任务不存在", "No such grading task")
GradeSheetSubmitted = _error("GradeSheetSubmitted", 409, "grade_sheet_submitted", "评分已提交，不能再修改", "This score was submitted and is locked")
ScoresInvalid = _error("ScoresInvalid", 422, "scores_invalid", "分数不符合评分标准（超出范围或不是规定的分值档）", "A score is outside the rubric (out of range or not one of its steps)")
ScoresIncomplete = _error("ScoresIncomplete", 422, "scores_incomplete", "每个评分项都需打分后才能提交", "Every rubric item needs a score before submitting")
ResultsPublished = _error("ResultsPublished", 409, "results_published", "成绩已发布，如需更改请先重新打开并说明原因", "The results are published; reopen them with a reason to change anything")
ResultsPending = _error("ResultsPending", 409, "results_pending", "仍有考生结果待定（审核或评分未完成），不能发布", "Some results are still pending (review or grading not finished): nothing was published")
ResultsNotPublished = _error("ResultsNotPublished", 409, "results_not_published", "该场次成绩尚未发布", "This session's results are not published")
ConsequenceUnknown = _error("ConsequenceUnknown", 422, "consequence_unknown", "违规处理方式只能是零分或取消资格", "A consequence is either zero or disqualify")

# --- face (identity verification, waiting-room gate, in-exam checks) -------------------------------------------------
IdentityNotVerified = _error("IdentityNotVerified", 409, "identity_not_verified", "请先在考生端完成实名认证（人脸比对）", "Complete identity verification (the face check) in the candidate app first")
IdentityAlreadyVerified = _error("IdentityAlreadyVerified", 409, "identity_already_verified", "您已通过实名认证", "Your identity is already verified")
IdentityRejected = _error("IdentityRejected", 409, "identity_rejected", "实名认证人工审核未通过，请联系考务人员", "Manual identity review did not approve you; please contact the exam support staff")
FaceReviewPending = _error("FaceReviewPending", 409, "face_review_pending", "人脸比对失败次数过多，已转人工审核，请等待结果", "Too many failed face checks: your identity is under manual review, please wait for the result")
FaceReviewNotFound = _error("FaceReviewNotFound", 404, "face_review_not_found", "人工审核记录不存在", "No such face review")
FaceReviewResolved = _error("FaceReviewResolved", 409, "face_review_resolved", "该人工审核已处理", "This face review is already resolved")
FaceCheckNotFound = _error("FaceCheckNotFound", 404, "face_check_not_found", "人脸比对记录或其图片不存在", "No such face check, or it has no image")
IdPhotoMissing = _error("IdPhotoMissing", 409, "id_photo_missing", "尚无证件照，请先上传本人证件照", "No ID photo yet: upload your ID photo first")
IdPhotoUnusable = _error("IdPhotoUnusable", 409, "id_photo_unusable", "证件照中无法识别人脸，请上传清晰的本人证件照", "No face can be found in the ID photo: upload a clear ID photo of yourself")
IdPhotoLocked = _error("IdPhotoLocked", 409, "id_photo_locked", "证件照已由考务导入或已用于认证，不能更换", "The ID photo was imported by the exam staff or is already in use and cannot be replaced")
FaceGateClosed = _error("FaceGateClosed", 409, "face_gate_closed", "当前不在候考时间内，不能进行人脸核验", "Face verification is open only during the waiting window")
FaceCheckClosed = _error("FaceCheckClosed", 409, "face_check_closed", "只有答题期间可以进行考中人脸抽检", "In-exam face checks are accepted only while answering")
FaceCooldown = _error("FaceCooldown", 429, "face_cooldown", "连续多次比对未通过，请稍候再试", "Several failed face checks in a row: wait a moment before trying again")
FaceRateLimited = _error("FaceRateLimited", 429, "face_rate_limited", "操作过于频繁，请稍后再试", "Too many face checks: slow down")
ImageTypeUnsupported = _error("ImageTypeUnsupported", 415, "image_type_unsupported", "只接受 JPEG、PNG 或 WebP 图片", "Only JPEG, PNG or WebP pictures are accepted")


def _from_face(kind: type[FaceError], status: int) -> type[DualcamError]:
    """Our error for a face library error: same code and texts; the status is chosen here, in one table."""
    return _error(kind.__name__, status, kind.code, kind.message, kind.message_en)


# Every FaceError code the library raises, and its HTTP status: the caller's problems (FaceInputError) are 4xx,
# the server's (FaceModelError) 503.
FACE_ERRORS: dict[str, type[DualcamError]] = {
    error.code: error
    for error in (
        _from_face(face.EmptyImage, 422),
        _from_face(face.NotAnImage, 415),
        _from_face(face.CorruptImage, 422),
        _from_face(face.ImageTooLarge, 413),  # over its use's budget (app.face.images): refused by its header
        _from_face(face.FaceRequestPending, 429),  # the same candidate's previous picture is still in the engine
        _from_face(face.NoFace, 422),
        _from_face(face.EmbeddingMismatch, 409),  # a stored template of another pack: server-side state
        _from_face(face.UnknownPack, 503),
        _from_face(face.ModelsMissing, 503),
        _from_face(face.ModelChecksumMismatch, 503),
        _from_face(face.ModelFetchFailed, 503),
        _from_face(face.FaceEngineBusy, 503),
    )
}
FACE_INPUT_ERRORS = tuple(FACE_ERRORS[c] for c in ("image_empty", "image_unreadable", "image_corrupt", "image_too_large", "face_request_pending"))
FACE_UNAVAILABLE = tuple(FACE_ERRORS[c] for c in ("face_models_missing", "face_model_checksum_mismatch", "face_pack_unknown", "face_engine_busy"))
FaceModelsMissing = FACE_ERRORS["face_models_missing"]
NoFaceFound = FACE_ERRORS["no_face"]


def face_error(exc: FaceError) -> DualcamError:
    """Map a face library error at the boundary (services call this); `detail` stays in the logs, not the body."""
    kind = FACE_ERRORS.get(exc.code) or _error("FaceError", 503 if isinstance(exc, face.FaceModelError) else 422, exc.code, exc.message, exc.message_en)
    # Busy or one's own picture still pending: the phone may retry in a moment.
    headers = {"Retry-After": "1"} if exc.code in (face.FaceEngineBusy.code, face.FaceRequestPending.code) else None
    return kind(headers=headers)


def responses(*errors: type[DualcamError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the errors a route can raise, grouped by status."""
    by_status: dict[int, list[str]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error.code)
    return {
        status: {"model": ErrorResponse, "description": " | ".join(sorted(set(codes)))}
        for status, codes in sorted(by_status.items())
    }
