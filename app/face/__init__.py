"""Face verification: model packs, image intake, the engine and quality coaching.

This package knows nothing about exams or HTTP. Its errors carry a stable ``code`` and the zh-CN / English texts of the
DESIGN.md error shape; the API maps the two families to statuses: ``FaceInputError`` is the caller's (4xx),
``FaceModelError`` is the server's (5xx/503). Importing this package is cheap: the heavy modules (cv2, onnxruntime,
insightface) load only with ``app.face.engine``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FaceError(Exception):
    code: ClassVar[str] = "face_error"
    message: ClassVar[str] = "人脸识别出错"
    message_en: ClassVar[str] = "Face verification failed"

    def __init__(self, detail: str | None = None) -> None:
        # `detail` is for logs and operators (English, may name paths); never shown to candidates.
        super().__init__(detail or self.message_en)
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "message_en": self.message_en}}


class FaceInputError(FaceError):
    """The caller can fix it (4xx): the uploaded picture cannot be used, or the caller's previous one is still in
    the engine."""


class EmptyImage(FaceInputError):
    code = "image_empty"
    message = "图片为空"
    message_en = "The image is empty"


class NotAnImage(FaceInputError):
    code = "image_unreadable"
    message = "无法识别的图片格式，请上传 JPEG、PNG 或 WebP 图片"
    message_en = "Not a readable image: upload a JPEG, PNG or WebP picture"


class CorruptImage(FaceInputError):
    code = "image_corrupt"
    message = "图片已损坏或不完整，请重新拍摄"
    message_en = "The image is damaged or incomplete: please take it again"


class ImageTooLarge(FaceInputError):
    code = "image_too_large"
    message = "图片尺寸过大"
    message_en = "The image dimensions are too large"


class NoFace(FaceInputError):
    code = "no_face"
    message = "未检测到人脸，请正对摄像头，让整张脸出现在画面中"
    message_en = "No face found: face the camera with your whole face in the picture"


class FaceRequestPending(FaceInputError):
    code = "face_request_pending"
    message = "上一张照片仍在核验中，请等待结果后再试"
    message_en = "Your previous picture is still being checked: wait for its result, then try again"


class EmbeddingMismatch(FaceInputError):
    code = "face_embedding_mismatch"
    message = "人脸模板与当前识别模型不匹配，请重新采集"
    message_en = "The stored face template does not fit the current model pack: enrol again"


class FaceModelError(FaceError):
    """The server cannot verify faces right now: models missing or broken, engine overloaded (5xx)."""


class UnknownPack(FaceModelError):
    code = "face_pack_unknown"
    message = "未知的人脸模型包"
    message_en = "Unknown face model pack"


class ModelsMissing(FaceModelError):
    code = "face_models_missing"
    message = "人脸识别模型未安装"
    message_en = "The face models are not installed"


class ModelChecksumMismatch(FaceModelError):
    code = "face_model_checksum_mismatch"
    message = "人脸识别模型文件校验失败"
    message_en = "A face model file failed its checksum"


class ModelFetchFailed(FaceModelError):
    code = "face_model_fetch_failed"
    message = "人脸识别模型下载失败"
    message_en = "Fetching the face models failed"


class FaceEngineBusy(FaceModelError):
    code = "face_engine_busy"
    message = "人脸识别繁忙，请稍后重试"
    message_en = "Face verification is busy: please retry in a moment"
