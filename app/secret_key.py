"""The server's secret key (DUALCAM_SECRET_KEY): the HMAC key of the ID-number hashes, the access codes and the
recording links, so it must be secret and the same in every process that shares a database.

Production takes it only from the environment, and refuses a short or known one. Development and test without
one generate a random key once per data dir (`<data_dir>/secret_key`, mode 0600): every install differs, restarts
keep it, and processes on one data dir agree because the file is created exclusively (O_EXCL) and read back."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "secret_key"
# The old built-in default: public (it is in the source), so it signs nothing in production.
PUBLIC_DEFAULT = "dualcam-development-secret-change-me"
# 32 random bytes written as base64 (secrets.token_urlsafe(32), openssl rand -base64 32) take 43 characters. The
# length of a key says nothing of its randomness; a floor on distinct characters at least refuses "aaaa…".
MIN_LENGTH = 43
MIN_DISTINCT = 10
GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
# A reader that finds the file before its creator wrote the key waits this long at most.
_READ_WAIT_SECONDS = 2.0


class SecretKeyError(Exception):
    """A missing, weak or unreadable key; rendered like the API's errors (one line on the CLI)."""

    def __init__(self, code: str, message: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.message_en = message_en

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "message_en": self.message_en}}


@dataclass(frozen=True, slots=True)
class KeyFile:
    path: Path
    key: str
    created: bool


def check_production_key(key: str) -> None:
    if not key:
        raise SecretKeyError(
            "secret_key_missing",
            f"生产环境必须设置 DUALCAM_SECRET_KEY（至少 32 字节随机数，如 {GENERATE_HINT}），且所有共用数据库的进程相同",
            f"DUALCAM_SECRET_KEY must be set in production (32+ random bytes, e.g. {GENERATE_HINT}), the same in every process on the database",
        )
    if key == PUBLIC_DEFAULT:
        raise SecretKeyError(
            "secret_key_public",
            f"DUALCAM_SECRET_KEY 是公开的旧默认值，请换成随机密钥（{GENERATE_HINT}）",
            f"DUALCAM_SECRET_KEY is the old public default; use a random key ({GENERATE_HINT})",
        )
    if len(key) < MIN_LENGTH or len(set(key)) < MIN_DISTINCT:
        raise SecretKeyError(
            "secret_key_weak",
            f"DUALCAM_SECRET_KEY 太弱：至少 {MIN_LENGTH} 个字符（32 字节随机数的 base64），如 {GENERATE_HINT}",
            f"DUALCAM_SECRET_KEY is too weak: {MIN_LENGTH}+ characters (32 random bytes in base64), e.g. {GENERATE_HINT}",
        )


def load_or_create(path: Path) -> KeyFile:
    """The key in `path`, created (0600) if there is none yet; concurrent first starts all get the same key."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return KeyFile(path, _read(path), created=False)
        key = secrets.token_urlsafe(48)
        try:
            os.write(fd, f"{key}\n".encode())  # one short write: a reader sees no key or all of it
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)  # never leave a half-written key for the next start to trust
            raise
        os.close(fd)
        return KeyFile(path, key, created=True)
    except OSError as exc:
        raise SecretKeyError(
            "secret_key_file_unusable",
            f"无法读取或创建密钥文件 {path}：{exc.strerror or exc}；请检查数据目录权限，或设置 DUALCAM_SECRET_KEY",
            f"Cannot read or create the key file {path}: {exc.strerror or exc}; check the data dir, or set DUALCAM_SECRET_KEY",
        ) from exc


def _read(path: Path) -> str:
    # Readable by the server's user only, like the database: tighten a copy that lost its mode.
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        with contextlib.suppress(PermissionError):
            path.chmod(0o600)
    deadline = time.monotonic() + _READ_WAIT_SECONDS
    # The creator writes the key in one write right after creating the file: empty means "not yet", for a moment.
    while not (text := path.read_text(encoding="utf-8").strip()):
        if time.monotonic() >= deadline:
            raise SecretKeyError(
                "secret_key_file_empty",
                f"密钥文件 {path} 为空；删除它会生成新密钥（已发的登录码将失效），或设置 DUALCAM_SECRET_KEY",
                f"The key file {path} is empty; deleting it makes a new key (issued access codes stop working), or set DUALCAM_SECRET_KEY",
            )
        time.sleep(0.02)
    return text
