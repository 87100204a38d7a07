"""Password hashing, opaque tokens, and the keyed hash + mask of ID numbers."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when an account does not exist, so a miss costs as long as a wrong password
# and response timing does not reveal which accounts exist.
DUMMY_HASH = _hasher.hash("dualcam-dummy-password")


def configure_password_hashing(*, time_cost: int, memory_kib: int) -> None:
    """argon2id cost (process-wide). Production keeps argon2-cffi's RFC 9106 defaults; the test suite
    lowers the cost so hundreds of log-ins stay fast. Existing hashes verify under any setting."""
    global _hasher, DUMMY_HASH
    if (_hasher.time_cost, _hasher.memory_cost) != (time_cost, memory_kib):
        _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        DUMMY_HASH = _hasher.hash("dualcam-dummy-password")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_PASSWORD_RE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d).{8,128}$")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def rehashed(password: str, password_hash: str) -> str | None:
    """After a successful check: a new hash when the stored one was made with lower cost settings than the current
    ones (raised since), else None. Only at log-in is the password at hand to hash again."""
    return _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def strong_enough(password: str) -> bool:
    return bool(_PASSWORD_RE.match(password))


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive); None for anything else."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_access_code() -> str:
    """8 characters from an alphabet without look-alikes (0/O, 1/I/L): read out over the phone."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def access_code_digest(secret_key: str, code: str) -> str:
    """Access codes are random (40 bits) and issued in bulk: a keyed HMAC keeps a 10,000-row import fast
    while a leaked database alone (without the key) cannot be used to test codes offline."""
    return hmac.new(secret_key.encode(), b"access-code:" + code.strip().upper().encode(), hashlib.sha256).hexdigest()


def access_code_matches(secret_key: str, code: str, digest: str | None) -> bool:
    return digest is not None and hmac.compare_digest(access_code_digest(secret_key, code), digest)


def normalize_id_number(raw: str) -> str:
    return raw.strip().upper()


def valid_id_number(id_number: str) -> bool:
    """Mainland resident ID (GB 11643): 18 characters, ISO 7064 MOD 11-2 check digit."""
    if not _ID_RE.match(id_number):
        return False
    total = sum(int(d) * w for d, w in zip(id_number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == id_number[17]


def id_number_digest(secret_key: str, id_number: str) -> str:
    return hmac.new(secret_key.encode(), normalize_id_number(id_number).encode(), hashlib.sha256).hexdigest()


def mask_id_number(id_number: str) -> str:
    return f"{id_number[:4]}{'*' * (len(id_number) - 8)}{id_number[-4:]}"


def normalize_phone(raw: str) -> str:
    phone = re.sub(r"[\s-]", "", raw)
    return phone[3:] if phone.startswith("+86") else phone


def valid_phone(phone: str) -> bool:
    return bool(_PHONE_RE.match(phone))


def login_key(secret_key: str, account: str) -> str:
    """Rate-limit key for an account or identifier. Keyed: a plain sha256 of an ID number or a phone number can be
    reversed by trying every one (about 10^10 of them), so login_attempts would hold them in all but name."""
    return hmac.new(secret_key.encode(), b"login:" + account.strip().upper().encode(), hashlib.sha256).hexdigest()


def client_bucket(host: str | None) -> str:
    """What a per-client limit counts: an IPv4 address, or an IPv6 /64. One subscriber is usually given a whole /64,
    so counting single IPv6 addresses would hand one client 2^64 allowances. Anything else (a test client's name,
    a Unix socket) counts as given; no address at all is one bucket."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone index (fe80::1%eth0) is not part of it
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def client_digest(secret_key: str, bucket: str) -> str:
    """A client as stored in the database: keyed, because the whole IPv4 space is 2^32 addresses and a plain hash of
    one is reversed in minutes; the limits only need "the same client again", never the address."""
    return hmac.new(secret_key.encode(), b"client:" + bucket.encode(), hashlib.sha256).hexdigest()
