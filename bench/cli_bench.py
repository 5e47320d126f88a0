"""``mspilot ask`` (a router answer, provider ``none``) against ``mspilot --help``, in one run.

Each command runs as a fresh process, alternating, ``--runs`` times; the report gives the
median wall-clock seconds of each and their ratio (``--help`` is the floor: Python, Typer and
the CLI's own imports). The ask runs against a small generated demo MSP in a temporary data
directory (or ``--data-dir``), with the product's clock pinned to the data's as-of date.
``--importtime`` adds the ten heaviest imports of one ask (``python -X importtime``).

    python -m mspilot.bench.cli_bench [--runs 5] [--data-dir DIR] [--importtime]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "How many P1 tickets did we open last month?"
AS_OF = "2026-10-31"


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MSPILOT_DATA_DIR": str(data_dir),
        "MSPILOT_LLM__PROVIDER": "none",
        "MSPILOT_TODAY": AS_OF,
    }


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from mspilot.cli.main import run; run()", *args]


def _prepare(data_dir: Path) -> None:
    if (data_dir / "mspilot.db").exists():
        return
    env = _env(data_dir)
    for args in (
        ("db", "upgrade"),
        ("demo", "generate", "--seed", "7", "--as-of", AS_OF, "--clients", "30", "--tenants", "1"),
        ("demo", "load"),
    ):
        subprocess.run(_cli(*args), env=env, check=True, capture_output=True)


def _time(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[3:])} failed:\n{out.stderr[-2000:]}")
    return elapsed


def heaviest_imports(env: dict[str, str], n: int = 10) -> list[tuple[str, float]]:
    cmd = [sys.executable, "-X", "importtime", *_cli("ask", QUESTION)[1:]]
    err = subprocess.run(cmd, env=env, capture_output=True, text=True).stderr
    rows: list[tuple[str, float]] = []
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2]
            if len(name) - len(name.lstrip()) <= 1:  # top-level imports only
                rows.append((name.strip(), int(parts[1]) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--importtime", action="store_true")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mspilot-cli-bench-") as tmp:
        data_dir = opts.data_dir or Path(tmp)
        _prepare(data_dir)
        env = _env(data_dir)
        _time(_cli("ask", QUESTION), env)  # warm the OS file cache and the per-machine caches
        ask, help_ = [], []
        for _ in range(opts.runs):
            ask.append(_time(_cli("ask", QUESTION), env))
            help_.append(_time(_cli("--help"), env))
        a, h = statistics.median(ask), statistics.median(help_)
        print(f"mspilot ask (router answer) median {a:.2f} s over {opts.runs} runs")
        print(f"mspilot --help              median {h:.2f} s")
        print(f"ask / help                  {a / h:.2f}x; ask minus help {a - h:.2f} s")
        print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}")
        if opts.importtime:
            print("heaviest top-level imports of one ask (cumulative s):")
            for name, seconds in heaviest_imports(env):
                print(f"  {seconds:6.3f}  {name}")


if __name__ == "__main__":
    main()
