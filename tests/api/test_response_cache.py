"""The response cache of the prediction endpoints: a repeated GET is answered from bytes but
still authenticated, rate limited and audited, and never crosses tenants, roles or users."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi.testclient import TestClient

from mspilot.api.state import AppState
from mspilot.db.audit import recent_events
from mspilot.db.users import create_user
from support.api_world import World, auth, make_app, token

URL = "/v1/margins?period=2026-Q2&limit=5"


def _state(tc: TestClient) -> AppState:
    state: AppState = tc.app.state.mspilot  # type: ignore[attr-defined]
    return state


def test_a_repeat_is_served_from_bytes_and_audited_per_caller(world: World) -> None:
    with TestClient(make_app(world)) as tc:
        state = _state(tc)
        first = tc.get(URL, headers={**auth(world, "owner"), "X-Request-ID": "first-1"})
        assert first.status_code == 200 and state.responses.hits == 0
        second = tc.get(URL, headers={**auth(world, "owner"), "X-Request-ID": "second-2"})
        assert second.status_code == 200 and state.responses.hits == 1
        assert second.content == first.content
        assert second.headers["x-request-id"] == "second-2"
        # another page is another entry, computed by the handler
        other = tc.get(URL.replace("limit=5", "limit=2"), headers=auth(world, "owner"))
        assert len(other.json()["items"]) == 2 and state.responses.hits == 1
        state.audit.flush()
        events = {e["request_id"]: e for e in recent_events(world.engine, world.tenant_id, 500)}
        assert events["first-1"]["resource"] == events["second-2"]["resource"] == "GET /v1/margins"
        assert events["second-2"]["user_id"] == world.users["owner"].id
        assert events["second-2"]["rows_out"] == events["first-1"]["rows_out"] == 5
        metrics = tc.get("/metrics").text
        assert 'route="/v1/margins",status="200"} 3.0' in metrics


def test_no_entry_crosses_tenants_roles_or_users(world: World) -> None:
    with TestClient(make_app(world)) as tc:
        state = _state(tc)
        owner = tc.get(URL, headers=auth(world, "owner")).json()
        assert len(owner["items"]) == 5
        # the other tenant's owner asks for the same URL: its own (empty) tenant, not a hit
        other = tc.get(URL, headers=auth(world, "other_owner")).json()
        assert state.responses.hits == 0
        assert {i["client_id"] for i in other["items"]}.isdisjoint(
            {i["client_id"] for i in owner["items"]}
        )
        # roles without margins are refused even though the URL is cached for the owner
        for role in ("technician", "client_user"):
            denied = tc.get(URL, headers=auth(world, role))
            assert denied.status_code == 403 and denied.json()["code"] == "role_forbidden"
        # a finance user gets the same numbers, audited under their own id
        fin = tc.get(URL, headers={**auth(world, "finance"), "X-Request-ID": "fin-1"})
        assert fin.json() == owner
        state.audit.flush()
        events = {e["request_id"]: e for e in recent_events(world.engine, world.tenant_id, 500)}
        assert events["fin-1"]["user_id"] == world.users["finance"].id
        assert events["fin-1"]["role"] == "finance"


def test_a_hit_still_checks_credentials_and_rate_limits(world: World) -> None:
    user = create_user(world.engine, world.tenant_id, f"rc-{uuid.uuid4().hex[:8]}@t.test", "owner")
    world.users[user.email] = user
    with TestClient(make_app(world, user_requests_per_minute=3)) as tc:
        state = _state(tc)
        h = auth(world, user.email)
        codes = [tc.get(URL, headers=h).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429] and state.responses.hits >= 2
        limited = tc.get(URL, headers=h)
        assert limited.json()["code"] == "rate_limited" and limited.json()["scope"] == "user"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # cached for the owner role, yet an expired or forged token is still refused
        expired = token(world, "owner", ttl=dt.timedelta(seconds=-5))
        gone = tc.get(URL, headers={"Authorization": f"Bearer {expired}"})
        assert gone.status_code == 401 and gone.json()["code"] == "token_expired"
        forged = tc.get(URL, headers={"Authorization": "Bearer " + h["Authorization"][7:-2]})
        assert forged.status_code == 401
        assert tc.get(URL, headers={}).status_code == 401
        wrong = tc.get(URL, headers={**auth(world, "owner"), "X-Mspilot-Tenant": "other"})
        assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_tenant"


def test_the_cache_holds_a_bounded_number_of_bytes() -> None:
    from mspilot.api.caches import ResponseCache

    cache = ResponseCache(max_bytes=1000)
    day = dt.date(2026, 10, 31)
    for i in range(50):  # 50 distinct pages of 300 bytes: never more than 1,000 held
        key = ("t", "owner", None, day, "/v1/churn", f"offset={i}".encode())
        cache.put(key, [], b"x" * 300, None, [])
        assert cache._held() == cache._bytes <= 1000
        assert cache.get(key) is not None  # the newest always fits
    assert cache.get(("t", "owner", None, day, "/v1/churn", b"offset=0")) is None


def test_concurrent_misses_render_the_page_once(world: World) -> None:
    """Requests that miss together wait for the first one's answer instead of each rendering
    the page (single flight); each is still answered and audited as its own request."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    n = 16
    with TestClient(make_app(world)) as tc:
        state = _state(tc)
        puts: list[object] = []
        real_put = state.responses.put

        def counting_put(*args: object, **kwargs: object) -> None:
            puts.append(args[0])
            real_put(*args, **kwargs)  # type: ignore[arg-type]

        state.responses.put = counting_put  # type: ignore[method-assign]
        gate = threading.Barrier(n)

        def ask(i: int) -> tuple[int, bytes]:
            gate.wait()
            r = tc.get(URL, headers={**auth(world, "owner"), "X-Request-ID": f"burst-{i}"})
            return r.status_code, r.content

        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(ask, range(n)))
        assert {code for code, _ in answers} == {200}
        assert len({body for _, body in answers}) == 1
        assert len(puts) == 1  # one render for the burst
        state.audit.flush()
        events = {e["request_id"] for e in recent_events(world.engine, world.tenant_id, 1000)}
        assert {f"burst-{i}" for i in range(n)} <= events
