"""API load benchmark on loopback: a real ``uvicorn`` server process, an httpx async client.

    python -m mspilot.bench.api_bench [--clients 60] [--requests 4000] [--streams 1000]
                                      [--database-url URL --data-dir DIR --tenant ID] [--json]

1. Prediction endpoints (churn risk, margins, pricing, client profile, leaks, forecast when
   trained) at 32 concurrent connections: p50 / p99 latency per endpoint and overall, req/s.
2. ``--streams`` chat streams (``POST /v1/chat``, SSE) opened at once on one server process:
   every stream must receive ``start``, all stay open together (a barrier holds them until the
   last one has started), then each must end with ``final``; errors are counted.
3. The server's resident memory (RSS) with every model loaded, after warm-up and at peak.

Without ``--database-url`` a demo tenant of ``--clients`` clients is generated into a temp
directory and every model trained (so each prediction endpoint serves a real model). The seed
quoted < 100 ms average and 5 concurrent chat streams; the targets are p50 ≤ 5 ms, p99 ≤ 25 ms
at 32 connections, 1,000 streams with zero errors, RSS ≤ 400 MB.

Size: a benchmark script (set-up, load generator, report) kept whole so it reads top to
bottom.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

SECRET = "bench-secret-bench-secret-bench-secret"
QUESTIONS = (
    "how many tickets did we open last month?",
    "revenue by month this year",
    "which clients had the most tickets this quarter?",
    "hours by technician last month",
    "what is our average csat this year?",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the uvicorn supervisor and its workers)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [pid], [pid]
    while frontier:
        kids = [p for p, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


def _rss_mb(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) in MB, summed over the server's processes."""
    now = peak = 0.0
    for p in _tree(pid):
        fields = {}
        try:
            text = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        if "VmRSS" in fields:
            now += int(fields["VmRSS"].split()[0]) / 1024
            peak += int(fields["VmHWM"].split()[0]) / 1024
    return now, peak


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the server's processes have used so far."""
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ---- setup -----------------------------------------------------------------------------------


def build_demo(root: Path, clients: int, as_of: dt.date) -> tuple[str, str]:
    """A demo tenant in ``root`` with every model trained; returns (url, tenant)."""
    from mspilot.core.clock import Clock
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine
    from mspilot.db.loader import Loader, upsert_tenant
    from mspilot.models.training import train_all
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    url = f"sqlite:///{root / 'mspilot.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    ds = generate_tenant(DemoConfig(n_clients=clients, years=2, as_of=as_of), 0)
    with engine.begin() as conn:
        upsert_tenant(conn, ds.tenant.id, ds.tenant.name)
    Loader(engine, ds.tenant.id, "demo").load_all(ds.tables)
    t = time.perf_counter()
    train_all(engine, ds.tenant.id, root, Clock(as_of), mlflow=False)  # every model: all served
    print(f"setup: {clients} clients loaded, models trained in {time.perf_counter() - t:.1f} s")
    engine.dispose()
    return url, ds.tenant.id


def bench_user(url: str, tenant: str) -> str:
    """An owner for the bench; returns its token."""
    from mspilot.api.security import issue_token
    from mspilot.db.engine import make_engine
    from mspilot.db.users import upsert_user

    engine = make_engine(url)
    user = upsert_user(engine, tenant, "bench@bench.test", "owner")
    engine.dispose()
    token, _ = issue_token(
        SECRET,
        user_id=user.id,
        tenant_id=tenant,
        role="owner",
        client_id=None,
        ttl=dt.timedelta(hours=2),
    )
    return token


def start_server(
    url: str, data_dir: Path, as_of: dt.date, port: int, workers: int = 1
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MSPILOT_DATABASE_URL": url,
        "MSPILOT_DATA_DIR": str(data_dir),
        "MSPILOT_TODAY": as_of.isoformat(),
        "MSPILOT_LLM__PROVIDER": "none",
        "MSPILOT_API__JWT_SECRET": SECRET,
        "MSPILOT_API__USER_REQUESTS_PER_MINUTE": "10000000",
        "MSPILOT_API__TENANT_REQUESTS_PER_MINUTE": "10000000",
        "MSPILOT_API__USER_CHATS_PER_MINUTE": "10000000",
        "MSPILOT_LOG_LEVEL": "WARNING",
        "MSPILOT_LOG_FORMAT": "json",
    }
    code = (  # exactly what `mspilot serve` runs
        "import uvicorn\n"
        "from mspilot.api.server import APP, raise_open_file_limit, uvicorn_options\n"
        "raise_open_file_limit()\n"
        f"uvicorn.run(APP, **uvicorn_options('127.0.0.1', {port}, {workers}))\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env)


async def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.time() + timeout
    async with httpx.AsyncClient() as client:
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the server exited during start-up")
            try:
                if (await client.get(base + "/readyz", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError("the server did not become ready")


# ---- 1. prediction endpoints -----------------------------------------------------------------


PREDICTION_PATHS = (
    "/v1/churn?limit=20",
    "/v1/margins?limit=20",
    "/v1/pricing?limit=20",
    "/v1/leaks?limit=20",
    "/v1/forecast",
)


async def servable(client: httpx.AsyncClient, candidates: tuple[str, ...]) -> list[str]:
    """Warm the caches; keep the paths this tenant can serve (200)."""
    endpoints = []
    for path in candidates:
        resp = await client.get(path, timeout=600)
        if resp.status_code == 200:
            endpoints.append(path)
        else:
            print(f"  skipped {path}: {resp.status_code} {resp.json().get('code')}")
    return endpoints


async def predictions(
    base: str,
    token: str,
    total: int,
    concurrency: int,
    candidates: tuple[str, ...] = PREDICTION_PATHS,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:
        endpoints = await servable(client, candidates)
        latencies: dict[str, list[float]] = {p: [] for p in endpoints}
        errors = 0
        failures: list[str] = []
        counter = iter(range(total))

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                path = endpoints[i % len(endpoints)]
                t = time.perf_counter()
                try:
                    resp = await client.get(path)
                except httpx.HTTPError as exc:
                    errors += 1
                    failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies[path].append((time.perf_counter() - t) * 1000)
                if resp.status_code != 200:
                    errors += 1
                    failures.append(f"{path}: {resp.status_code}")

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    every = [v for vs in latencies.values() for v in vs]
    return {
        "concurrency": concurrency,
        "requests": len(every),
        "errors": errors,
        "error_examples": sorted(set(failures))[:5],
        "req_per_s": round(len(every) / wall, 1),
        "p50_ms": round(_pct(every, 0.5), 2),
        "p99_ms": round(_pct(every, 0.99), 2),
        "mean_ms": round(statistics.fmean(every), 2),
        "by_endpoint": {
            p.split("?")[0]: {
                "p50_ms": round(_pct(v, 0.5), 2),
                "p99_ms": round(_pct(v, 0.99), 2),
            }
            for p, v in latencies.items()
        },
    }


# ---- 1b. the same with wrk (a C load generator: it leaves the cores to the server) ----------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_WRK_SCRIPT = """
local paths = {%s}
local i = 0
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def _ms(text: str) -> float:
    for unit in ("us", "ms", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _UNITS[unit]
    return float(text) * 1000.0


def parse_wrk(out: str) -> dict[str, Any]:
    """p50/p99 (ms), req/s, requests and errors (non-2xx, socket errors) from ``wrk --latency``."""
    stats: dict[str, Any] = {"errors": 0}
    for raw in out.splitlines():
        line = raw.strip()
        parts = line.split()
        if line.startswith("50%"):
            stats["p50_ms"] = round(_ms(parts[1]), 3)
        elif line.startswith("99%"):
            stats["p99_ms"] = round(_ms(parts[1]), 3)
        elif line.startswith("Requests/sec:"):
            stats["req_per_s"] = float(parts[1])
        elif "requests in" in line:
            stats["requests"] = int(parts[0])
        elif line.startswith("Non-2xx or 3xx responses:"):
            stats["errors"] += int(parts[-1])
        elif line.startswith("Socket errors:"):
            stats["errors"] += sum(int(p.strip(",")) for p in parts[3::2])
    return stats


def wrk_run(
    base: str,
    token: str,
    paths: tuple[str, ...],
    connections: int,
    duration_s: float,
    server_pid: int,
) -> dict[str, Any]:
    """One ``wrk`` run over ``paths`` in turn; adds the CPU the server and wrk each used per
    request (so a reader sees the load generator did not starve the server)."""
    import resource

    script = _WRK_SCRIPT % (", ".join(json.dumps(p) for p in paths), token)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    cpu0, kids0 = _cpu_s(server_pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(duration_s))}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                fh.name,
                base + paths[0],
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(fh.name).unlink()
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = parse_wrk(out)
    n = max(int(stats.get("requests", 0)), 1)
    stats["connections"] = connections
    stats["server_cpu_ms_per_request"] = round(1000 * (_cpu_s(server_pid) - cpu0) / n, 3)
    wrk_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    stats["wrk_cpu_ms_per_request"] = round(1000 * wrk_cpu / n, 3)
    return stats


def _wrk_line(label: str, r: dict[str, Any]) -> str:
    return (
        f"{label}: p50 {r.get('p50_ms')} ms, p99 {r.get('p99_ms')} ms, "
        f"{r.get('req_per_s')} req/s, {r['errors']} errors, server CPU "
        f"{r['server_cpu_ms_per_request']} ms/req, wrk CPU {r['wrk_cpu_ms_per_request']} ms/req"
    )


async def wrk_predictions(
    base: str, token: str, args: argparse.Namespace, server_pid: int
) -> dict[str, Any]:
    """Baseline ``/healthz`` and the prediction mix at 1 and ``--concurrency`` connections, then
    each endpoint alone, all measured with wrk in this run."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        paths = tuple(await servable(client, PREDICTION_PATHS))
    d, c = args.duration, args.concurrency
    # every worker process computes its caches on its first requests: warm them all first
    await asyncio.to_thread(wrk_run, base, token, paths, c, 2 * args.workers, server_pid)
    result: dict[str, Any] = {"load_generator": "wrk"}
    for label, key, run_paths, conns in (
        (f"baseline /healthz @{c}", "baseline_healthz", ("/healthz",), c),
        ("predictions @1", "predictions_1", paths, 1),
        (f"predictions @{c}", "predictions", paths, c),
    ):
        result[key] = await asyncio.to_thread(wrk_run, base, token, run_paths, conns, d, server_pid)
        print(_wrk_line(label, result[key]))
    pred, floor = result["predictions"], result["baseline_healthz"]
    print(
        f"  vs baseline: p50 x{pred['p50_ms'] / max(floor['p50_ms'], 1e-9):.2f}, "
        f"throughput x{pred['req_per_s'] / max(floor['req_per_s'], 1e-9):.2f}"
    )
    result["by_endpoint"] = {}
    for path in paths:
        one = await asyncio.to_thread(wrk_run, base, token, (path,), c, max(d / 3, 2), server_pid)
        result["by_endpoint"][path.split("?")[0]] = one
        print(
            f"  {path.split('?')[0]:<28} p50 {one.get('p50_ms'):>7} ms   "
            f"p99 {one.get('p99_ms'):>7} ms   {one.get('req_per_s')} req/s"
        )
    return result


# ---- 2. concurrent chat streams --------------------------------------------------------------


async def chat_streams(base: str, token: str, n: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(600.0, connect=120.0)
    started = 0
    all_started = asyncio.Event()
    errors: list[str] = []
    first_final: list[float] = []
    t0 = time.perf_counter()

    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=timeout
    ) as client:

        async def one(i: int) -> None:
            nonlocal started
            got_start = False
            try:
                body = {"question": QUESTIONS[i % len(QUESTIONS)]}
                async with client.stream("POST", "/v1/chat", json=body) as resp:
                    if resp.status_code != 200:
                        errors.append(f"status {resp.status_code}")
                        return
                    event = ""
                    async for line in resp.aiter_lines():
                        if line.startswith("event: "):
                            event = line[7:]
                        if event == "start" and not got_start and line.startswith("data: "):
                            got_start = True
                            started += 1
                            if started == n:
                                all_started.set()
                            await asyncio.wait_for(all_started.wait(), 300)
                        elif event == "error" and line.startswith("data: "):
                            errors.append(f"error event: {line[6:200]}")
                            return
                        elif event == "final" and line.startswith("data: "):
                            answer = json.loads(line[6:])["answer"]
                            if not answer.get("answer"):
                                errors.append("empty answer")
                            first_final.append(time.perf_counter() - t0)
                            return
                    errors.append("stream ended without a final answer")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                if not got_start:
                    started += 1  # do not hold the others at the barrier forever
                    if started == n:
                        all_started.set()

        await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - t0
    return {
        "streams": n,
        "all_open_at_once": all_started.is_set() and not errors,
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "completed": len(first_final),
        "wall_s": round(wall, 1),
        "turns_per_s": round(len(first_final) / wall, 1) if wall else 0.0,
    }


# ---- main ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    as_of = dt.date.fromisoformat(args.as_of)
    tmp = None
    if args.database_url:
        url, data_dir, tenant = args.database_url, Path(args.data_dir), args.tenant
    else:
        tmp = tempfile.TemporaryDirectory(prefix="api-bench-")
        data_dir = Path(tmp.name)
        url, tenant = build_demo(data_dir, args.clients, as_of)
    token = bench_user(url, tenant)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(url, data_dir, as_of, port, args.workers)
    try:
        t = time.perf_counter()
        await wait_ready(base, proc)
        startup = time.perf_counter() - t
        rss_ready, _ = _rss_mb(proc.pid)
        if args.workers > 1:  # /readyz answered by one worker: wait for the others to load
            await asyncio.sleep(5 * args.workers)
            rss_ready, _ = _rss_mb(proc.pid)
        print(
            f"server ready in {startup:.1f} s, {args.workers} worker(s), "
            f"RSS {rss_ready:.0f} MB (models + agent loaded)"
        )
        if args.load == "wrk":
            load = await wrk_predictions(base, token, args, proc.pid)
            base_line, pred = load["baseline_healthz"], load
        else:
            base_line, pred = await python_predictions(base, token, args, proc.pid)
        rss_after_pred, _ = _rss_mb(proc.pid)
        chat: dict[str, Any] = {}
        if args.streams:
            chat = await chat_streams(base, token, args.streams)
            print(
                f"chat: {chat['streams']} streams open at once: {chat['all_open_at_once']}, "
                f"{chat['errors']} errors, {chat['completed']} answered in {chat['wall_s']} s "
                f"({chat['turns_per_s']} turns/s)"
            )
            for example in chat["error_examples"]:
                print(f"  error: {example}")
        rss_now, rss_peak = _rss_mb(proc.pid)
        load1, load5, _ = os.getloadavg()
        print(
            f"RSS: {rss_ready:.0f} MB ready, {rss_after_pred:.0f} MB after predictions, "
            f"{rss_now:.0f} MB after chat, peak {rss_peak:.0f} MB; "
            f"load average {load1:.1f} (1 min) {load5:.1f} (5 min) on {os.cpu_count()} cores"
        )
        return {
            "startup_s": round(startup, 1),
            "baseline_healthz": base_line,
            "predictions": pred,
            "chat": chat,
            "rss_mb": {
                "ready": round(rss_ready),
                "after_predictions": round(rss_after_pred),
                "after_chat": round(rss_now),
                "peak": round(rss_peak),
            },
            "workers": args.workers,
            "load_average": [round(load1, 2), round(load5, 2)],
            "targets": {"p50_ms": 5, "p99_ms": 25, "streams": 1000, "rss_mb": 400},
            "seed": {"mean_ms": 100, "streams": 5, "rss_mb": 104},
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if tmp is not None:
            tmp.cleanup()


async def python_predictions(
    base: str, token: str, args: argparse.Namespace, pid: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The httpx load generator (no wrk): it shares the cores with the server."""
    cpu0 = _cpu_s(pid)
    base_line = await predictions(base, token, args.requests // 2, args.concurrency, ("/healthz",))
    cpu1 = _cpu_s(pid)
    base_line["server_cpu_ms_per_request"] = round(
        1000 * (cpu1 - cpu0) / max(base_line["requests"] + 1, 1), 2
    )
    print(
        f"baseline /healthz @{args.concurrency}: p50 {base_line['p50_ms']} ms, "
        f"p99 {base_line['p99_ms']} ms, {base_line['req_per_s']} req/s, "
        f"server CPU {base_line['server_cpu_ms_per_request']} ms/request "
        "(the floor this machine, client and server give any request)"
    )
    cpu1 = _cpu_s(pid)
    pred = await predictions(base, token, args.requests, args.concurrency)
    pred["server_cpu_ms_per_request"] = round(
        1000 * (_cpu_s(pid) - cpu1) / max(pred["requests"], 1), 2
    )
    print(
        f"predictions @{args.concurrency}: p50 {pred['p50_ms']} ms, p99 {pred['p99_ms']} ms, "
        f"{pred['req_per_s']} req/s, {pred['errors']} errors, "
        f"server CPU {pred['server_cpu_ms_per_request']} ms/request"
    )
    print(
        f"  vs baseline: p50 x{pred['p50_ms'] / max(base_line['p50_ms'], 1e-9):.1f}, "
        f"throughput x{pred['req_per_s'] / max(base_line['req_per_s'], 1e-9):.2f}"
    )
    for path, stats in pred["by_endpoint"].items():
        print(f"  {path:<28} p50 {stats['p50_ms']:>7} ms   p99 {stats['p99_ms']:>7} ms")
    return base_line, pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--as-of", default="2026-10-31")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--database-url")
    parser.add_argument("--data-dir", default="./var")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--load",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator for the prediction endpoints (wrk when installed)",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
