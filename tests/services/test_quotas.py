"""The per-client quota (a sliding window per key, in this process) and the client buckets it counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.security import client_bucket
from app.services.quotas import Quota
from tests.conftest import T0


def test_a_quota_slides_and_refused_hits_do_not_count() -> None:
    quota = Quota(limit=3, window=timedelta(seconds=60))
    assert [quota.hit("a", now=T0 + timedelta(seconds=s)) for s in (0, 10, 20)] == [None, None, None]
    assert quota.hit("a", now=T0 + timedelta(seconds=30)) == timedelta(seconds=30)
    assert quota.hit("a", now=T0 + timedelta(seconds=59)) == timedelta(seconds=1)  # the refusals did not extend it
    assert quota.hit("b", now=T0 + timedelta(seconds=59)) is None  # per key
    assert quota.hit("a", now=T0 + timedelta(seconds=60)) is None  # the first hit left the window
    assert quota.hit("a", now=T0 + timedelta(seconds=61)) == timedelta(seconds=9)


def test_a_flood_of_keys_stays_bounded() -> None:
    quota = Quota(limit=1, window=timedelta(seconds=60), max_keys=100)
    for n in range(1000):
        quota.hit(f"client-{n}", now=T0 + timedelta(seconds=n // 10))
        assert len(quota) <= 100
    # The latest keys are still counted.
    assert quota.hit("client-999", now=T0 + timedelta(seconds=100)) is not None


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # an IPv4 client of a dual-stack socket
        ("2001:db8:5:7:1:2:3:4", "2001:db8:5:7::/64"),
        ("2001:DB8:5:7::1", "2001:db8:5:7::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("testclient", "testclient"),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(host: str | None, bucket: str) -> None:
    assert client_bucket(host) == bucket
