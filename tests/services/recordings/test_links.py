"""recordings/links: a signed link plays a recording until its expiry; any change to it (recording, expiry,
signature, key) makes it invalid."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from app import errors
from app.models import Recording
from app.services.recordings import links
from tests.conftest import T0

KEY = "a-secret-key"
TTL = timedelta(minutes=10)
RECORDING = Recording(id=uuid.UUID("6f1c2e6a-0000-4000-8000-000000000001"))


def issued() -> tuple[int, str, links.Link]:
    link = links.link_for(RECORDING, secret_key=KEY, now=T0, ttl=TTL)
    url = urlsplit(link.path)
    query = parse_qs(url.query)
    assert url.path == f"/api/v1/recordings/{RECORDING.id}/content"
    return int(query["expires"][0]), query["signature"][0], link


def test_a_link_plays_until_it_expires() -> None:
    expires, signature, link = issued()
    assert link.expires_at == T0 + TTL
    assert expires == int((T0 + TTL).timestamp())
    links.check_link(secret_key=KEY, recording_id=RECORDING.id, expires=expires, signature=signature, now=T0)
    links.check_link(secret_key=KEY, recording_id=RECORDING.id, expires=expires, signature=signature, now=T0 + TTL - timedelta(seconds=1))
    with pytest.raises(errors.RecordingLinkExpired):
        links.check_link(secret_key=KEY, recording_id=RECORDING.id, expires=expires, signature=signature, now=T0 + TTL)


Given = dict[str, Any]


def _flip(signature: str) -> str:
    return signature[:-1] + ("0" if signature[-1] != "0" else "1")


TAMPERED: list[tuple[str, Callable[[Given], Given]]] = [
    ("another recording", lambda g: g | {"recording_id": uuid.uuid4()}),
    ("a later expiry", lambda g: g | {"expires": g["expires"] + 3600}),
    ("a flipped signature character", lambda g: g | {"signature": _flip(g["signature"])}),
    ("a truncated signature", lambda g: g | {"signature": g["signature"][:-1]}),
    ("an empty signature", lambda g: g | {"signature": ""}),
    ("another server's key", lambda g: g | {"secret_key": "another-key"}),
]


@pytest.mark.parametrize(("label", "tamper"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_a_tampered_link_is_invalid(label: str, tamper: Callable[[Given], Given]) -> None:
    expires, signature, _ = issued()
    given = {"secret_key": KEY, "recording_id": RECORDING.id, "expires": expires, "signature": signature}
    links.check_link(now=T0, **given)  # as issued: valid
    with pytest.raises(errors.RecordingLinkInvalid):
        links.check_link(now=T0, **tamper(given))


def test_an_expired_tampered_link_says_invalid() -> None:
    """The signature is checked first: an expired link is told apart only when it is genuine."""
    expires, _, _ = issued()
    with pytest.raises(errors.RecordingLinkInvalid):
        links.check_link(secret_key=KEY, recording_id=RECORDING.id, expires=expires, signature="0" * 40, now=T0 + 2 * TTL)
