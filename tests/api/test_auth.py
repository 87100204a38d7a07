"""Log-in, rate limiting, log-out, token expiry, access-code reissue, device supersede, and what is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.db import Base
from app.main import create_app
from app.models import Candidate, LoginAttempt, StaffRole, StaffUser
from tests.support.api import PASSWORD, Api, id_number, phone

pytestmark = pytest.mark.anyio

STAFF_LOGIN = "/api/v1/auth/staff/login"
CANDIDATE_LOGIN = "/api/v1/auth/candidate/login"
WINDOW = 900  # Settings.login_window_seconds
MAX_FAILURES = 5


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


async def staff_login(api: Api, username: str, password: str) -> httpx.Response:
    return await api.request("POST", STAFF_LOGIN, json={"username": username, "password": password})


async def candidate_login(api: Api, identifier: str, secret: str, exam_id: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"identifier": identifier, "secret": secret}
    if exam_id is not None:
        body["exam_id"] = exam_id
    return await api.request("POST", CANDIDATE_LOGIN, json=body)


@pytest.fixture
async def ops(api: Api) -> str:
    return await api.staff(username="ops-main")


@pytest.fixture
async def exam_id(api: Api, ops: str) -> str:
    return (await api.exam(ops))["id"]


async def whoami(api: Api, token: str) -> httpx.Response:
    """A call any role but devices can make: ops and reviewers list exams, candidates read their profile."""
    url = "/api/v1/candidate/me" if token.startswith("dcc_") else "/api/v1/ops/exams"
    return await api.request("GET", url, token)


# --- log-in -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [StaffRole.ops, StaffRole.reviewer])
async def test_staff_log_in_and_wrong_passwords_fail_alike(api: Api, role: StaffRole) -> None:
    token = await api.staff(role, username=f"{role.value}-1")
    assert token.startswith("dco_" if role is StaffRole.ops else "dcr_")
    body = (await staff_login(api, f"{role.value}-1", PASSWORD)).json()
    assert body["role"] == role.value
    assert datetime.fromisoformat(body["expires_at"]) == api.clock.now() + timedelta(days=14)
    assert (await whoami(api, body["token"])).status_code == 200
    for username, password in [(f"{role.value}-1", PASSWORD + "x"), ("nobody", PASSWORD), (f"{role.value}-1", "")]:
        response = await staff_login(api, username, password)
        expected = 422 if not password else 401
        assert response.status_code == expected
        if expected == 401:
            assert error_code(response) == "login_failed" and response.json()["error"]["message_en"]


async def test_candidate_logs_in_by_id_number_or_phone(api: Api, ops: str, exam_id: str) -> None:
    row, _ = await api.candidate(ops, exam_id, seq=1)
    for identifier in (id_number(1), id_number(1).lower(), f" {id_number(1)} ", phone(1), "+86 139-0000-0001"):
        response = await candidate_login(api, identifier, row["access_code"].lower())
        assert response.status_code == 200, identifier
        assert response.json()["role"] == "candidate"
    for identifier, secret in [(id_number(1), "WRONGCOD"), (id_number(2), row["access_code"]), (phone(2), row["access_code"])]:
        response = await candidate_login(api, identifier, secret)
        assert (response.status_code, error_code(response)) == (401, "login_failed")


# --- rate limit ---------------------------------------------------------------------------------------


async def _accounts(api: Api, ops: str, exam_id: str, kind: str) -> list[tuple[str, str]]:
    """Two accounts of a kind as (identifier, right secret)."""
    if kind == "staff":
        for name in ("alice", "bob"):
            await api.staff(username=name)
        return [("alice", PASSWORD), ("bob", PASSWORD)]
    rows = await api.roster(ops, exam_id, [("张三", id_number(1), phone(1)), ("李四", id_number(2), phone(2))])
    return [(id_number(1), rows[0]["access_code"]), (id_number(2), rows[1]["access_code"])]


async def _login(api: Api, kind: str, identifier: str, secret: str, exam_id: str | None = None) -> httpx.Response:
    return await (staff_login(api, identifier, secret) if kind == "staff" else candidate_login(api, identifier, secret, exam_id))


@pytest.mark.parametrize("kind", ["staff", "candidate"])
async def test_five_failures_lock_the_account_for_the_window(api: Api, ops: str, exam_id: str, kind: str) -> None:
    (locked, secret), (other, other_secret) = await _accounts(api, ops, exam_id, kind)
    for _ in range(MAX_FAILURES):
        assert (await _login(api, kind, locked, "Wrong-secret-1")).status_code == 401
        api.clock.advance(seconds=10)

    # Even the right secret is refused now; the answer says when to come back.
    response = await _login(api, kind, locked, secret)
    assert (response.status_code, error_code(response)) == (429, "too_many_login_attempts")
    retry_after = int(response.headers["Retry-After"])
    assert retry_after == WINDOW - 5 * 10 + 1
    # The lock is per account.
    assert (await _login(api, kind, other, other_secret)).status_code == 200

    api.clock.advance(seconds=retry_after - 2)
    assert (await _login(api, kind, locked, secret)).status_code == 429
    api.clock.advance(seconds=2)  # the first failure left the window
    assert (await _login(api, kind, locked, secret)).status_code == 200


async def test_a_success_clears_earlier_failures(api: Api) -> None:
    await api.staff(username="carol")
    for _ in range(2):
        for _ in range(MAX_FAILURES - 1):
            assert (await staff_login(api, "carol", "Wrong-secret-1")).status_code == 401
        assert (await staff_login(api, "carol", PASSWORD)).status_code == 200


async def test_rewriting_the_identifier_does_not_escape_the_lock(api: Api, ops: str, exam_id: str) -> None:
    row, _ = await api.candidate(ops, exam_id, seq=1)
    for _ in range(MAX_FAILURES):
        assert (await candidate_login(api, phone(1), "WRONGCOD")).status_code == 401
    for identifier, scope in [("139-0000-0001", None), ("+86 13900000001", None), (phone(1), exam_id)]:
        response = await candidate_login(api, identifier, row["access_code"], scope)
        assert response.status_code == 429, identifier


# --- per client -------------------------------------------------------------------------------------------

STRANGER = "203.0.113.9"  # a documentation address (RFC 5737): the `api` fixture's own client is 127.0.0.1
CLIENT_MAX_FAILURES = 20  # Settings.login_client_max_failures
CLIENT_REGISTRATIONS = 20  # Settings.client_registrations
CLIENT_WINDOW = 900  # Settings.client_window_seconds


@pytest.mark.parametrize("kind", ["staff", "candidate"])
async def test_a_strangers_failures_do_not_lock_the_owner_out(
    api: Api, api_from: Callable[[str], Awaitable[Api]], ops: str, exam_id: str, kind: str
) -> None:
    """Knowing a phone number must not be enough to keep its candidate out on exam morning."""
    stranger = await api_from(STRANGER)
    (identifier, secret), _ = await _accounts(api, ops, exam_id, kind)
    for _ in range(MAX_FAILURES):
        assert (await _login(stranger, kind, identifier, "Wrong-secret-1")).status_code == 401
    response = await _login(stranger, kind, identifier, secret)
    assert (response.status_code, error_code(response)) == (429, "too_many_login_attempts")
    assert int(response.headers["Retry-After"]) == WINDOW + 1

    # The owner, on their own phone: in, while the stranger stays locked.
    assert (await _login(api, kind, identifier, secret)).status_code == 200
    assert (await _login(stranger, kind, identifier, secret)).status_code == 429


async def test_the_phone_and_the_id_number_of_one_candidate_share_one_count(api: Api, ops: str, exam_id: str) -> None:
    row, _ = await api.candidate(ops, exam_id, seq=1)
    for identifier in [phone(1)] * 3 + [id_number(1)] * 2:
        assert (await candidate_login(api, identifier, "WRONGCOD")).status_code == 401
    for identifier in (phone(1), id_number(1), id_number(1).lower()):
        response = await candidate_login(api, identifier, row["access_code"])
        assert (response.status_code, error_code(response)) == (429, "too_many_login_attempts"), identifier


async def test_an_unknown_identifier_locks_like_a_known_one(api: Api, ops: str, exam_id: str) -> None:
    """Enumeration by lock-out: five misses on a number nobody has end the same way as on a candidate's."""
    await api.candidate(ops, exam_id, seq=1)
    answers: dict[str, list[int]] = {}
    for identifier in (phone(1), phone(99)):
        answers[identifier] = [(await candidate_login(api, identifier, "WRONGCOD")).status_code for _ in range(MAX_FAILURES + 1)]
    assert answers[phone(1)] == answers[phone(99)] == [401] * MAX_FAILURES + [429]


async def test_one_client_is_capped_over_all_identifiers(
    api: Api, api_from: Callable[[str], Awaitable[Api]], ops: str, exam_id: str
) -> None:
    """Spreading guesses over many identifiers (fewer than five each) still stops at the client's cap."""
    rows = await api.roster(ops, exam_id, [(f"考生{n}", id_number(n), phone(n)) for n in range(1, 4)])
    stranger = await api_from(STRANGER)
    for n in range(CLIENT_MAX_FAILURES):
        # Known and unknown identifiers alike, never more than one miss each.
        identifier = phone(n + 1) if n < 2 else id_number(100 + n)
        assert (await candidate_login(stranger, identifier, "WRONGCOD")).status_code == 401, n
        api.clock.advance(seconds=10)
    for identifier, secret in [(phone(3), rows[2]["access_code"]), (phone(200), "WRONGCOD")]:
        response = await candidate_login(stranger, identifier, secret)  # even the right code of an untouched account
        assert (response.status_code, error_code(response)) == (429, "too_many_login_attempts")
        assert int(response.headers["Retry-After"]) == WINDOW - CLIENT_MAX_FAILURES * 10 + 1
    response = await staff_login(stranger, "ops-main", PASSWORD)  # one cap over both kinds of log-in
    assert (response.status_code, error_code(response)) == (429, "too_many_login_attempts")
    # Everyone else is unaffected, the stranger's own first target included.
    assert (await candidate_login(api, phone(1), rows[0]["access_code"])).status_code == 200

    api.clock.advance(seconds=WINDOW - CLIENT_MAX_FAILURES * 10 + 1)  # the first miss left the window
    assert (await candidate_login(stranger, phone(3), rows[2]["access_code"])).status_code == 200


async def test_a_success_clears_only_that_clients_failures_on_that_account(
    api: Api, api_from: Callable[[str], Awaitable[Api]], ops: str, exam_id: str
) -> None:
    row, _ = await api.candidate(ops, exam_id, seq=1)
    stranger = await api_from(STRANGER)
    for client in (stranger, api):
        for _ in range(MAX_FAILURES - 1):
            assert (await candidate_login(client, phone(1), "WRONGCOD")).status_code == 401
    assert (await candidate_login(api, phone(1), row["access_code"])).status_code == 200
    # The owner starts afresh; the stranger's four misses still count.
    assert (await candidate_login(api, phone(1), "WRONGCOD")).status_code == 401
    assert (await candidate_login(stranger, phone(1), "WRONGCOD")).status_code == 401
    assert (await candidate_login(stranger, phone(1), row["access_code"])).status_code == 429
    assert (await candidate_login(api, phone(1), row["access_code"])).status_code == 200


async def test_an_ipv6_client_is_its_64_bit_prefix(api_from: Callable[[str], Awaitable[Api]]) -> None:
    """Every subscriber gets a whole /64: a fresh address from it per guess must not be a fresh client."""
    for n in range(CLIENT_MAX_FAILURES):
        client = await api_from(f"2001:db8:5:7::{n + 1:x}")
        assert (await candidate_login(client, phone(n + 1), "WRONGCOD")).status_code == 401
    same_prefix, next_prefix = await api_from("2001:db8:5:7:ffff::1"), await api_from("2001:db8:5:8::1")
    assert (await candidate_login(same_prefix, phone(99), "WRONGCOD")).status_code == 429
    assert (await candidate_login(next_prefix, phone(99), "WRONGCOD")).status_code == 401


async def test_login_attempts_hold_neither_addresses_nor_identifiers(
    api: Api, api_from: Callable[[str], Awaitable[Api]], ops: str, exam_id: str
) -> None:
    await api.candidate(ops, exam_id, seq=1)
    stranger = await api_from(STRANGER)
    for identifier in (phone(1), id_number(1), phone(42), "ops-main"):
        assert (await candidate_login(stranger, identifier, "WRONGCOD")).status_code == 401
    assert (await staff_login(stranger, "ops-main", "Wrong-secret-1")).status_code == 401
    async with api.app.state.sessionmaker() as db:
        rows = (await db.execute(select(LoginAttempt.key_hash, LoginAttempt.client_hash))).all()
    assert len(rows) == 5
    stored = " ".join(v for row in rows for v in row)
    for plain in (STRANGER, phone(1), phone(42), id_number(1), "ops-main"):
        assert plain not in stored
        # Nor their plain sha256: the IPv4 space and the phone numbers are small enough to try them all.
        assert hashlib.sha256(plain.encode()).hexdigest() not in stored
        assert hashlib.sha256(plain.upper().encode()).hexdigest() not in stored


async def test_self_registration_is_capped_per_client(api: Api, api_from: Callable[[str], Awaitable[Api]], ops: str) -> None:
    """Accounts made in bulk from one client would each get their own face-engine allowance; and `already_registered`
    answers whether a number is on the roster, so every attempt counts, not only the accounts made."""
    exam_id = (await api.exam(ops, self_registration=True))["id"]
    url = f"/api/v1/exams/{exam_id}/registrations"

    def person(n: int) -> dict[str, str]:
        return {"name": f"考生{n}", "id_number": id_number(100 + n), "phone": phone(100 + n), "password": "Regist3red"}

    for n in range(CLIENT_REGISTRATIONS):
        # Every fifth attempt repeats the one before it: refused, and counted all the same.
        again = n % 5 == 4
        response = await api.request("POST", url, json=person(n - 1 if again else n))
        assert response.status_code == (409 if again else 201), (n, response.text)
        api.clock.advance(seconds=10)
    response = await api.request("POST", url, json=person(50))
    assert (response.status_code, error_code(response)) == (429, "client_rate_limited")
    assert response.json()["error"]["message"] and response.json()["error"]["message_en"]
    wait = CLIENT_WINDOW - CLIENT_REGISTRATIONS * 10
    assert int(response.headers["Retry-After"]) == response.json()["error"]["details"]["retry_after"] == wait

    other = await api_from(STRANGER)
    assert (await other.request("POST", url, json=person(51))).status_code == 201
    api.clock.advance(seconds=wait)  # the first attempt left the window
    assert (await api.request("POST", url, json=person(50))).status_code == 201
    assert (await api.request("POST", url, json=person(52))).status_code == 429


# --- tokens ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["staff", "candidate"])
async def test_logout_revokes_only_the_token_used(api: Api, ops: str, exam_id: str, kind: str) -> None:
    ((identifier, secret), _) = await _accounts(api, ops, exam_id, kind)
    first, second = [(await _login(api, kind, identifier, secret)).json()["token"] for _ in range(2)]
    assert (await api.request("POST", "/api/v1/auth/logout", first)).status_code == 204
    response = await whoami(api, first)
    assert (response.status_code, error_code(response)) == (401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await api.request("POST", "/api/v1/auth/logout", first)).status_code == 401
    assert (await whoami(api, second)).status_code == 200


@pytest.mark.parametrize("kind", ["staff", "candidate"])
async def test_tokens_expire(api: Api, ops: str, exam_id: str, kind: str) -> None:
    ((identifier, secret), _) = await _accounts(api, ops, exam_id, kind)
    body = (await _login(api, kind, identifier, secret)).json()
    expires_at = datetime.fromisoformat(body["expires_at"])
    api.clock.set(expires_at - timedelta(seconds=1))
    assert (await whoami(api, body["token"])).status_code == 200
    api.clock.set(expires_at)
    response = await whoami(api, body["token"])
    assert (response.status_code, error_code(response)) == (401, "invalid_token")


async def test_unknown_and_malformed_tokens_are_refused(api: Api) -> None:
    for headers, code in [({}, "not_authenticated"), ({"Authorization": "Basic abc"}, "not_authenticated"), ({"Authorization": "Bearer dco_nope"}, "invalid_token")]:
        response = await api.request("GET", "/api/v1/ops/exams", headers=headers)
        assert (response.status_code, error_code(response)) == (401, code)


# --- access codes and passwords ------------------------------------------------------------------------


@pytest.mark.parametrize("had_password", [False, True])
async def test_reissued_access_code_replaces_the_old_secret(api: Api, ops: str, exam_id: str, had_password: bool) -> None:
    row, token = await api.candidate(ops, exam_id, seq=1)
    old = row["access_code"]
    if had_password:
        await api.ok("PUT", "/api/v1/candidate/password", token, status=204, json={"current": old, "new": "Secret-pass-1"})
        assert (await candidate_login(api, id_number(1), old)).status_code == 401  # the password replaced the code
        old = "Secret-pass-1"
    assert (await candidate_login(api, id_number(1), old)).status_code == 200

    body = await api.ok("POST", f"/api/v1/ops/candidates/{row['candidate_id']}/access-code", ops)
    assert body["candidate_id"] == row["candidate_id"] and body["access_code"] != row["access_code"]
    assert (await candidate_login(api, id_number(1), old)).status_code == 401
    fresh = (await candidate_login(api, phone(1), body["access_code"])).json()
    me = await api.ok("GET", "/api/v1/candidate/me", fresh["token"])
    assert me["must_set_password"] is True

    response = await api.request("POST", f"/api/v1/ops/candidates/{row['candidate_id']}/access-code", fresh["token"])
    assert (response.status_code, error_code(response)) == (403, "forbidden")
    response = await api.request("POST", "/api/v1/ops/candidates/00000000-0000-4000-8000-000000000000/access-code", ops)
    assert (response.status_code, error_code(response)) == (404, "candidate_not_found")


async def test_credential_changes_end_the_other_log_ins_but_never_the_phones(api: Api, ops: str, exam_id: str) -> None:
    starts = api.clock.now() + timedelta(hours=2)
    session = await api.timed_session(ops, exam_id, starts - timedelta(minutes=10), starts, starts + timedelta(minutes=10), starts + timedelta(hours=3))
    row, here = await api.candidate(ops, exam_id, seq=1)
    await api.confirm(here)
    phone_token = await api.device(here, (await api.sitting_of(here, session["id"]))["id"], "main")
    elsewhere = (await candidate_login(api, id_number(1), row["access_code"])).json()["token"]

    await api.ok("PUT", "/api/v1/candidate/password", here, status=204, json={"current": row["access_code"], "new": "Secret-pass-1"})
    assert (await api.request("GET", "/api/v1/candidate/me", here)).status_code == 200  # the one that changed it
    response = await api.request("GET", "/api/v1/candidate/me", elsewhere)
    assert (response.status_code, error_code(response)) == (401, "invalid_token")
    assert (await api.request("GET", "/api/v1/device/sitting", phone_token)).status_code == 200

    await api.ok("POST", f"/api/v1/ops/candidates/{row['candidate_id']}/access-code", ops)
    response = await api.request("GET", "/api/v1/candidate/me", here)
    assert (response.status_code, error_code(response)) == (401, "invalid_token")
    assert (await api.request("GET", "/api/v1/device/sitting", phone_token)).status_code == 200


async def test_exam_id_scopes_the_log_in(api: Api, ops: str, exam_id: str) -> None:
    other = (await api.exam(ops, title="另一场考试"))["id"]
    (row_a,) = await api.roster(ops, exam_id, [("张三", id_number(1), phone(1))])
    (row_b,) = await api.roster(ops, other, [("张三", id_number(1), phone(1))])
    # Each code opens its own exam's account; the other exam's id does not.
    for code, mine, theirs in [(row_a["access_code"], exam_id, other), (row_b["access_code"], other, exam_id)]:
        for scope in (None, mine):
            token = (await candidate_login(api, id_number(1), code, scope)).json()["token"]
            assert (await api.ok("GET", "/api/v1/candidate/me", token))["exam_id"] == mine
        response = await candidate_login(api, id_number(1), code, theirs)
        assert (response.status_code, error_code(response)) == (401, "login_failed")


async def test_the_same_password_on_two_exams_asks_which_exam(api: Api, ops: str, exam_id: str) -> None:
    other = (await api.exam(ops, title="另一场考试"))["id"]
    for exam in (exam_id, other):
        (row,) = await api.roster(ops, exam, [("张三", id_number(1), phone(1))])
        token = (await candidate_login(api, phone(1), row["access_code"])).json()["token"]
        await api.ok("PUT", "/api/v1/candidate/password", token, status=204, json={"current": row["access_code"], "new": "Same-pass-123"})
    response = await candidate_login(api, phone(1), "Same-pass-123")
    assert (response.status_code, error_code(response)) == (409, "exam_choice_required")
    assert sorted(response.json()["error"]["details"]["exam_ids"]) == sorted([exam_id, other])
    token = (await candidate_login(api, phone(1), "Same-pass-123", other)).json()["token"]
    assert (await api.ok("GET", "/api/v1/candidate/me", token))["exam_id"] == other


# --- devices --------------------------------------------------------------------------------------------


async def test_a_second_phone_in_a_role_supersedes_the_first(api: Api, ops: str, exam_id: str) -> None:
    session = await api.session(
        ops, exam_id, "formal",
        waiting_opens_at="2026-06-02T08:50:00", answer_starts_at="2026-06-02T09:00:00",
        answer_ends_at="2026-06-02T09:10:00", upload_deadline="2026-06-02T12:00:00",
    )
    _, token = await api.candidate(ops, exam_id)
    await api.confirm(token)
    sitting = await api.sitting_of(token, session["id"])
    old_main = await api.device(token, sitting["id"], "main")
    aux = await api.device(token, sitting["id"], "aux")
    assert (await api.request("GET", "/api/v1/device/sitting", old_main)).status_code == 200

    new_main = await api.device(token, sitting["id"], "main")
    response = await api.request("GET", "/api/v1/device/sitting", old_main)
    # Refused, and told why: replaced by a newer phone of its role (not merely an invalid token).
    assert (response.status_code, error_code(response)) == (401, "device_replaced")
    for working in (new_main, aux):
        assert (await api.request("GET", "/api/v1/device/sitting", working)).status_code == 200


# --- what is stored -------------------------------------------------------------------------------------


async def test_passwords_are_argon2id_and_id_numbers_never_plain(api: Api, ops: str) -> None:
    exam_id = (await api.exam(ops, self_registration=True))["id"]
    row, token = await api.candidate(ops, exam_id, seq=7)
    await api.ok("PUT", "/api/v1/candidate/password", token, status=204, json={"current": row["access_code"], "new": "Secret-pass-1"})
    await candidate_login(api, id_number(7), "wrong-password-1")  # leaves a rate-limit row
    await api.ok("POST", f"/api/v1/exams/{exam_id}/registrations", status=201, json={"name": "王五", "id_number": id_number(8), "phone": phone(8), "password": "Secret-pass-2"})

    async with api.app.state.sessionmaker() as db:
        hashes = [*(await db.scalars(select(StaffUser.password_hash))), *(await db.scalars(select(Candidate.password_hash)))]
        assert hashes and all(h is None or h.startswith("$argon2id$") for h in hashes)
        assert sum(h is not None for h in hashes) >= 2
        plain = {id_number(7), id_number(8), id_number(7)[6:14]}  # the number, and its birth date part alone
        for table in Base.metadata.sorted_tables:
            for values in (await db.execute(select(table))).all():
                text = " ".join(str(v) for v in values)
                assert not any(p in text for p in plain), f"{table.name} holds an ID number in plain text"


async def test_hashes_made_at_a_lower_cost_are_upgraded_at_the_next_log_in(api: Api, ops: str, settings: Settings) -> None:
    """A server restarted with higher argon2 costs re-hashes each password when its owner next logs in (the only
    moment the password is at hand), and not again after that; a failed log-in changes nothing."""
    exam_id = (await api.exam(ops))["id"]
    row, token = await api.candidate(ops, exam_id, seq=3)
    await api.ok("PUT", "/api/v1/candidate/password", token, status=204, json={"current": row["access_code"], "new": "Secret-pass-3"})
    staff = "upgrade-staff"
    await api.staff(username=staff)

    async def stored() -> tuple[str, str]:
        async with api.app.state.sessionmaker() as db:
            staff_hash = await db.scalar(select(StaffUser.password_hash).where(StaffUser.username == staff))
            candidate_hash = await db.scalar(select(Candidate.password_hash).where(Candidate.phone == phone(3)))
        assert staff_hash is not None and candidate_hash is not None
        return staff_hash, candidate_hash

    before = await stored()
    assert all("m=1024,t=1," in h for h in before), before
    create_app(settings.model_copy(update={"argon2_time_cost": 2, "argon2_memory_kib": 2048}))  # the restart: new costs
    try:
        assert (await candidate_login(api, phone(3), "wrong-password-3")).status_code == 401
        assert await stored() == before
        await api.ok("POST", "/api/v1/auth/staff/login", json={"username": staff, "password": PASSWORD})
        assert (await candidate_login(api, phone(3), "Secret-pass-3")).status_code == 200
        upgraded = await stored()
        assert all("m=2048,t=2," in h for h in upgraded), upgraded
        await api.ok("POST", "/api/v1/auth/staff/login", json={"username": staff, "password": PASSWORD})
        assert (await candidate_login(api, phone(3), "Secret-pass-3")).status_code == 200
        assert await stored() == upgraded  # at the current cost already: left alone
    finally:
        create_app(settings)
