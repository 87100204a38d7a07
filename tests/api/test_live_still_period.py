"""The period of the main phone's in-exam stills comes from the server (a setting), with everything the phone reads
when answering starts: its sitting over REST, the socket's `hello` and the answer-start push."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.support.api import Api
from tests.support.realtime import QUESTION, STARTS, alive, scene, to_ready
from tests.support.ws import next_message, phone, wait_for, ws_client

pytestmark = pytest.mark.anyio

PERIOD = 7


@pytest.fixture(name="settings")
def still_settings(settings: Settings) -> Settings:
    return Settings(**{**settings.model_dump(), "live_still_seconds": PERIOD})


async def test_the_main_phone_learns_its_still_period_with_the_answer_start(api: Api) -> None:
    s = await scene(api, candidates=2)
    seat, absent = s.seats
    assert (await api.ok("GET", "/api/v1/device/sitting", seat.main))["live_still_seconds"] == PERIOD
    assert (await api.ok("GET", "/api/v1/device/sitting", seat.aux))["live_still_seconds"] is None
    async with ws_client(api.app) as client, phone(client, seat.main) as main, phone(client, seat.aux) as aux, phone(client, absent.main) as other:
        hellos = [await next_message(ws) for ws in (main, aux, other)]
        assert [(h["type"], h["live_still_seconds"]) for h in hellos] == [("hello", PERIOD), ("hello", None), ("hello", PERIOD)]
        await to_ready(api, seat.sitting_id, main, aux)
        api.clock.set(STARTS)
        await alive(main, aux)
        await api.app.state.scheduler.tick()
        pushed = [await wait_for(ws, "phase", phase="answer_start") for ws in (main, aux, other)]
    assert (pushed[0]["live_still_seconds"], [q["text"] for q in pushed[0]["questions"]]) == (PERIOD, [QUESTION])
    assert pushed[1] == pushed[0]  # one message for the session: the aux phone takes no stills and ignores it
    # A sitting that may not answer (absent: not ready at the start) gets neither the question nor a period.
    assert ("live_still_seconds" in pushed[2], "questions" in pushed[2], pushed[2]["state"]) == (False, False, "absent")
    answering = await api.ok("GET", "/api/v1/device/sitting", seat.main)
    assert (answering["state"], answering["live_still_seconds"]) == ("answering", PERIOD)


@pytest.mark.parametrize("value", [1, 601])
def test_the_period_is_bounded(value: int) -> None:
    with pytest.raises(ValidationError, match="live_still_seconds"):
        Settings(env="test", live_still_seconds=value)


def test_the_period_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUALCAM_LIVE_STILL_SECONDS", "45")
    assert Settings(env="test").live_still_seconds == 45
