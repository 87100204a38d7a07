"""The tus protocol's error table: one constant per refusal (status, stable code, zh-CN and English message).

Rendered like every other dualcam error, `{"error": {"code", "message", "message_en"}}`, but with the status the
tus protocol prescribes (409 offset mismatch, 412 version, 460 checksum mismatch, ...). HEAD answers carry no
body. Callbacks refuse with `TusError(ErrorSpec(...))` of their own, e.g. 403 `outside_upload_window`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    code: str
    message_en: str
    message: str  # zh-CN, what the phone shows
    details: Any = None  # a callback's refusal may say more (the application's error details)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "message_en": self.message_en}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


@dataclass
class TusError(Exception):
    """A refusal with a protocol status. `headers` are added to the response (e.g. Upload-Offset on 409)."""

    spec: ErrorSpec
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.spec.status} {self.spec.code}"


def _e(status: int, code: str, en: str, zh: str) -> ErrorSpec:
    return ErrorSpec(status=status, code=code, message_en=en, message=zh)


# --- version, method, media type --------------------------------------------------------------
UNSUPPORTED_VERSION = _e(412, "tus_version_unsupported", "Tus-Resumable must be 1.0.0", "不支持的上传协议版本")
METHOD_NOT_ALLOWED = _e(405, "method_not_allowed", "Method not allowed here", "不支持该请求方法")
NOT_FOUND_ROUTE = _e(404, "not_found", "No such endpoint", "请求的地址不存在")
UNSUPPORTED_MEDIA_TYPE = _e(
    415, "content_type_invalid", "Content-Type must be application/offset+octet-stream", "上传内容类型不正确"
)

# --- headers -----------------------------------------------------------------------------------
OFFSET_MISSING = _e(400, "upload_offset_missing", "Upload-Offset header is required", "缺少 Upload-Offset")
OFFSET_INVALID = _e(400, "upload_offset_invalid", "Upload-Offset must be a non-negative integer", "Upload-Offset 不合法")
LENGTH_INVALID = _e(400, "upload_length_invalid", "Upload-Length must be a non-negative integer", "Upload-Length 不合法")
LENGTH_MISSING = _e(
    400, "upload_length_missing", "Send Upload-Length or Upload-Defer-Length: 1", "缺少 Upload-Length 或 Upload-Defer-Length"
)
LENGTH_AND_DEFER = _e(
    400,
    "upload_length_and_defer",
    "Upload-Length and Upload-Defer-Length exclude each other",
    "Upload-Length 与 Upload-Defer-Length 不能同时出现",
)
DEFER_INVALID = _e(400, "upload_defer_length_invalid", "Upload-Defer-Length must be 1", "Upload-Defer-Length 只能为 1")
LENGTH_CHANGED = _e(
    400, "upload_length_changed", "The upload's length is already set and cannot change", "上传长度已确定，不能修改"
)
LENGTH_BELOW_OFFSET = _e(
    400,
    "upload_length_below_offset",
    "Upload-Length is smaller than the bytes already received",
    "Upload-Length 小于已接收的字节数",
)
CONTENT_LENGTH_INVALID = _e(
    400, "content_length_invalid", "Content-Length must be a non-negative integer", "Content-Length 不合法"
)
METADATA_INVALID = _e(400, "upload_metadata_invalid", "Upload-Metadata is malformed", "Upload-Metadata 格式不正确")
CHECKSUM_ALGORITHM_UNSUPPORTED = _e(
    400, "checksum_algorithm_unsupported", "Checksum algorithm not supported (sha1, sha256)", "不支持的校验算法"
)
CHECKSUM_INVALID = _e(
    400, "checksum_invalid", "Upload-Checksum must be '<algorithm> <base64 digest>'", "Upload-Checksum 格式不正确"
)

# --- state -------------------------------------------------------------------------------------
UPLOAD_NOT_FOUND = _e(404, "upload_not_found", "No such upload", "上传不存在")
UPLOAD_GONE = _e(410, "upload_gone", "The upload was terminated or has expired", "上传已终止或已过期")
OFFSET_MISMATCH = _e(409, "upload_offset_mismatch", "Upload-Offset does not match the upload's offset", "上传偏移量不一致")
LENGTH_CONFLICT = _e(409, "upload_length_conflict", "The existing upload has another length", "已有的上传长度与请求不一致")
MAX_SIZE_EXCEEDED = _e(413, "upload_too_large", "The upload is larger than the maximum size", "上传文件超过大小上限")
BODY_EXCEEDS_LENGTH = _e(
    413,
    "upload_body_exceeds_length",
    "The body goes past Upload-Length; nothing of it was stored",
    "上传内容超过声明的长度，本次内容未保存",
)
CHECKSUM_MISMATCH = _e(460, "checksum_mismatch", "Checksum mismatch; the chunk was discarded", "校验不一致，本段内容已丢弃")
# 423 (not 409): tus-js-client retries both, and it tells an operator the upload itself is fine.
UPLOAD_LOCKED = _e(423, "upload_locked", "Another request is writing this upload; retry", "另一个请求正在写入此上传，请稍后重试")
UPLOAD_PREEMPTED = _e(
    423,
    "upload_preempted",
    "A newer request for this upload took over; retry from HEAD",
    "此上传已由更新的请求接管，请重新查询进度",
)
BODY_INCOMPLETE = _e(400, "upload_body_incomplete", "The request body ended early", "上传内容未完整到达")

# --- callers and the server ----------------------------------------------------------------------
UNAUTHORIZED = _e(401, "unauthorized", "Authentication required", "需要登录")
FORBIDDEN = _e(403, "forbidden", "Not allowed", "没有权限")
NOT_READY = _e(503, "uploads_unavailable", "Uploads are not available yet", "上传服务暂不可用")
STORE_UNAVAILABLE = _e(503, "upload_store_unavailable", "The upload store failed; retry", "存储服务暂时不可用，请重试")
