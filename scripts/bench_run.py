#!/usr/bin/env python3
"""The measuring half of scripts/bench (the bash half installs, builds and calls this).

Starts the fake upstream, the floors (nginx `proxy_pass` and `modelmesh-passthrough` in its four
server/client combinations), `modelmesh serve` and the ModelMesh Lite proxy, measures them side
by side in interleaved rounds (after the in-process routing benchmark, when given), prints the
tables, writes `<out>/<timestamp>.json` and regenerates docs/benchmarks.md with a copy of that
JSON next to it. Every process it starts is
listed in the PID file given by --pid-file (the bash trap kills them too) and is stopped on
exit. Traffic goes to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_streams import run_streams, stall_report  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent
WRK_SCRIPT = SCRIPTS / "bench_wrk.lua"
HOST = "127.0.0.1"
CHAT_BODY = '{"model":"chat","messages":[{"role":"user","content":"Say hello"}],"max_tokens":16}'
STREAM_BODY = (
    b'{"model":"chat","messages":[{"role":"user","content":"Count"}],"max_tokens":16,"stream":true}'
)
# The fake upstream's stream: the first chunk at once, then one every STREAM_INTERVAL_MS.
STREAM_CHUNKS = 10
STREAM_INTERVAL_MS = 50
# Concurrent streams are *held* streams ("bench_hold": true): few chunks, far apart, so that the
# level measures how many streams a proxy keeps open at once rather than how many chunks a
# second the shared 2-core machine can relay (2,000 streams of the stream above would be
# 40,000 chunks a second through client, proxy and upstream together).
HELD_STREAM_BODY = STREAM_BODY[:-1] + b',"bench_hold":true}'
HELD_CHUNKS = 5
HELD_INTERVAL_MS = 1000
# A held stream "stalls" if a chunk comes more than this late (its gap exceeds the interval by
# it), its first token takes longer than STREAM_TTFT_LIMIT_MS, or it does not end with [DONE]
# and all its chunks.
HELD_LATE_MS = 250
STREAM_TTFT_LIMIT_MS = 1000.0
# Streams opened per second when a level starts (2,000 streams: over 1 s).
HELD_OPEN_RATE = 2000
RATE_P99_LIMIT_US = 5000
# A run is noisy when other work took more than this share of the machine's CPU while it measured.
OTHER_WORK_NOISY = 0.05
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The floors: nginx, and modelmesh-passthrough as (key, label, --server, --client).
FLOOR = "nio-floor"
PASSTHROUGHS = [
    (FLOOR, "Bare NIO pass-through (floor)", "nio", "nio"),
    ("hb+nio", "Hummingbird + NIO client", "hummingbird", "nio"),
    ("nio+ahc", "NIO server + AsyncHTTPClient", "nio", "ahc"),
    ("hb+ahc", "Hummingbird + AsyncHTTPClient", "hummingbird", "ahc"),
]

# The targets of the proxy: thresholds from the issue, relative ones against the bare-NIO floor.
TARGET_ADDED_P50_US = 50
TARGET_P99_FACTOR = 2
TARGET_RPS_SHARE = 0.7
TARGET_RPS_ABSOLUTE = 10_000
TARGET_CPU_US = 100
TARGET_IDLE_RSS_KIB = 20 * 1024
TARGET_GROWTH_KIB = 2 * 1024  # "no growth": what is left after the first segment, allowing for noise

MODES = {
    "quick": dict(
        warmup_s=1, latency_rounds=3, latency_s=2, tput_rounds=3, tput_s=2,
        sweep_connections=[2, 4, 8, 16, 32, 64, 128], sweep_s=1,
        stream_rounds=2, stream_count=3, stream_levels=[100, 500, 2000], held_all_systems=False,
        long_requests=0, long_segment_s=0, lite_long_budget_s=0, routing_iterations=50_000,
    ),
    # For developing this harness only (bench_run.py --mode smoke); not offered by scripts/bench.
    "smoke": dict(
        warmup_s=1, latency_rounds=2, latency_s=1, tput_rounds=1, tput_s=1,
        sweep_connections=[8, 64], sweep_s=1,
        stream_rounds=1, stream_count=2, stream_levels=[20, 100], held_all_systems=False,
        long_requests=20_000, long_segment_s=2, lite_long_budget_s=5, routing_iterations=10_000,
    ),
    "long": dict(
        warmup_s=2, latency_rounds=5, latency_s=10, tput_rounds=5, tput_s=15,
        sweep_connections=[2, 4, 8, 16, 32, 64, 128], sweep_s=5,
        stream_rounds=5, stream_count=30, stream_levels=[100, 500, 2000, 5000], held_all_systems=True,
        long_requests=1_000_000, long_segment_s=20, lite_long_budget_s=600, routing_iterations=1_000_000,
    ),
}


STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:5.0f} s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Processes


@dataclass
class System:
    """One column of the table: something that answers /v1/chat/completions."""

    key: str
    label: str
    port: int = 0
    pid: int | None = None
    process: subprocess.Popen | None = None
    available: bool = False
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/v1/chat/completions"


class Processes:
    """Starts servers, records their PIDs, stops them all (also on SIGTERM/SIGINT)."""

    def __init__(self, pid_file: Path, work_dir: Path) -> None:
        self.pid_file = pid_file
        self.work_dir = work_dir
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, command: list[str], env: dict | None = None) -> tuple[subprocess.Popen, Path]:
        log_path = self.work_dir / f"{name}.log"
        out = open(log_path, "wb")
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        out.close()
        self.started.append(process)
        with open(self.pid_file, "a") as f:
            f.write(f"{process.pid}\n")
        return process, log_path

    def record(self, pid: int) -> None:
        """A process one of ours started (nginx's worker), for the bash trap to kill if need be."""
        with open(self.pid_file, "a") as f:
            f.write(f"{pid}\n")

    def stop_all(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 5
        for process in reversed(self.started):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.started.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_line(process: subprocess.Popen, log_path: Path, pattern: str, timeout: float) -> re.Match | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log_path.read_text(errors="replace"))
        if match:
            return match
        if process.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def post_chat(url: str, timeout: float = 5.0) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=CHAT_BODY.encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer bench-dummy-key"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except OSError as error:
        return 0, str(error)


def wait_until_forwarding(system: System, timeout: float) -> None:
    """Marks `system` available once a real chat completion comes back 200 through it."""
    deadline = time.monotonic() + timeout
    status, text = 0, ""
    while time.monotonic() < deadline:
        if system.process is not None and system.process.poll() is not None:
            system.reason = f"process exited with status {system.process.returncode} before answering"
            return
        status, text = post_chat(system.url, timeout=2.0)
        if status == 200 and '"choices"' in text:
            system.available = True
            return
        time.sleep(0.2)
    system.reason = f"no successful completion within {timeout:.0f} s (last: {status} {text[:160]!r})"


def cpu_ticks(pid: int | None) -> int | None:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat, in clock ticks."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5); the list starts at 3


def child_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def rss_kib(pid: int | None, field: str = "VmRSS") -> int | None:
    """A resident-memory figure of /proc/<pid>/status in KiB: VmRSS, or RssAnon (private
    memory) or RssFile (mapped files: code and read-only data, shared and evictable)."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class RSSSampler:
    """Samples VmRSS of some PIDs every 0.2 s in a thread; keeps the maximum of each."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {k: v for k, v in pids.items() if v is not None}
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, pid in self.pids.items():
                value = rss_kib(pid)
                if value is not None:
                    self.peak[key] = max(self.peak.get(key, 0), value)
            self._stop.wait(0.2)

    def __enter__(self) -> "RSSSampler":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------------------------------------
# Load generation


def wrk(url: str, connections: int, threads: int, seconds: int) -> dict:
    """Runs wrk with bench_wrk.lua; returns its BENCH_JSON record plus requests/s."""
    env = {**os.environ, "BENCH_BODY": CHAT_BODY}
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "2s",
        "-s", str(WRK_SCRIPT), url,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60)
    match = re.search(r"^BENCH_JSON (.*)$", completed.stdout, re.MULTILINE)
    if completed.returncode != 0 or not match:
        raise RuntimeError(
            f"wrk failed ({completed.returncode}): {completed.stderr.strip()[:300]} {completed.stdout[-300:]}"
        )
    record = json.loads(match.group(1))
    record["rps"] = round(record["requests"] / (record["duration_us"] / 1e6), 1)
    record["error_total"] = sum(record["errors"].values())
    record["connections"] = connections
    return record


def rotated(items: list, n: int) -> list:
    n %= len(items)
    return items[n:] + items[:n]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


# ---------------------------------------------------------------------------------------------
# Measurements


def measure_latency(systems: list[System], config: dict) -> dict:
    """Concurrency 1: wrk -t1 -c1, rounds interleaved; added = system − direct of the same round."""
    rounds: list[dict] = []
    for r in range(config["latency_rounds"]):
        this_round: dict[str, dict] = {}
        for system in rotated(systems, r):
            log(f"latency c1, round {r + 1}/{config['latency_rounds']}: {system.label}")
            this_round[system.key] = wrk(system.url, 1, 1, config["latency_s"])
        rounds.append(this_round)
    summary: dict[str, dict] = {}
    for system in systems:
        per_round = [rd[system.key] for rd in rounds]
        entry = {
            q: median([rec["latency_us"][q] for rec in per_round]) for q in ("p50", "p90", "p99")
        }
        entry["rps"] = median([rec["rps"] for rec in per_round])
        entry["errors"] = sum(rec["error_total"] for rec in per_round)
        if system.key != "direct":
            for q in ("p50", "p90", "p99"):
                entry[f"added_{q}"] = median(
                    [rd[system.key]["latency_us"][q] - rd["direct"]["latency_us"][q] for rd in rounds]
                )
                entry[f"ratio_{q}"] = round(
                    median([rd[system.key]["latency_us"][q] / max(1, rd["direct"]["latency_us"][q]) for rd in rounds]),
                    2,
                )
        summary[system.key] = entry
    return {"rounds": rounds, "summary": summary}


def measure_throughput(systems: list[System], config: dict) -> dict:
    """Concurrency 64: wrk -t2 -c64 for a fixed time, rounds interleaved; RSS peak sampled, CPU
    time of the server process over the run divided by the requests completed."""
    rounds: list[dict] = []
    peaks: dict[str, int] = {}
    for r in range(config["tput_rounds"]):
        this_round: dict[str, dict] = {}
        for system in rotated(systems, r):
            log(f"throughput c64, round {r + 1}/{config['tput_rounds']}: {system.label}")
            before = cpu_ticks(system.pid)
            with RSSSampler({system.key: system.pid}) as sampler:
                record = wrk(system.url, 64, 2, config["tput_s"])
            after = cpu_ticks(system.pid)
            if before is not None and after is not None and record["requests"]:
                record["cpu_us_per_request"] = (after - before) * 1e6 / CLOCK_TICKS / record["requests"]
            this_round[system.key] = record
            if system.key in sampler.peak:
                peaks[system.key] = max(peaks.get(system.key, 0), sampler.peak[system.key])
        rounds.append(this_round)
    summary: dict[str, dict] = {}
    for system in systems:
        per_round = [rd[system.key] for rd in rounds]
        entry = {
            "rps": median([rec["rps"] for rec in per_round]),
            "p50_us": median([rec["latency_us"]["p50"] for rec in per_round]),
            "p99_us": median([rec["latency_us"]["p99"] for rec in per_round]),
            "errors": sum(rec["error_total"] for rec in per_round),
            "non_2xx": sum(rec["errors"]["status"] for rec in per_round),
            "rss_peak_kib": peaks.get(system.key),
            "cpu_us_per_request": median([rec["cpu_us_per_request"] for rec in per_round
                                          if "cpu_us_per_request" in rec]),
        }
        if system.key != "direct":
            entry["ratio_rps"] = round(
                median([rd[system.key]["rps"] / max(1.0, rd["direct"]["rps"]) for rd in rounds]), 3
            )
        if FLOOR in rounds[0]:
            entry["ratio_floor_rps"] = round(
                median([rd[system.key]["rps"] / max(1.0, rd[FLOOR]["rps"]) for rd in rounds]), 3
            )
        summary[system.key] = entry
    return {"rounds": rounds, "summary": summary}


def measure_sweep(systems: list[System], config: dict, latency: dict) -> dict:
    """The highest throughput with p99 under 5 ms. wrk is closed-loop, so the load is stepped by
    connection count: one connection is the latency measurement (medians of its rounds), then
    each level runs every system still climbing (order rotated), and a system stops at its first
    level with p99 ≥ 5 ms or errors (after one retry: other load on the machine only ever makes
    a level worse)."""
    climbing = {s.key for s in systems}
    best: dict[str, dict | None] = {s.key: None for s in systems}

    def passed(record: dict) -> bool:
        return record["latency_us"]["p99"] < RATE_P99_LIMIT_US and record["error_total"] == 0

    def account(system: System, connections: int, record: dict) -> None:
        if not record["passed"]:
            climbing.discard(system.key)
        elif best[system.key] is None or record["rps"] > best[system.key]["rps"]:
            best[system.key] = {"connections": connections, "rps": record["rps"],
                                "p99_us": record["latency_us"]["p99"]}

    def run(system: System, connections: int) -> dict:
        record = wrk(system.url, connections, min(2, connections), config["sweep_s"])
        record["passed"] = passed(record)
        return record

    levels: list[dict] = [{"connections": 1, "results": {}}]
    for system in systems:
        lat = latency["summary"][system.key]
        record = {"rps": lat["rps"], "latency_us": {"p99": lat["p99"]}, "error_total": lat["errors"]}
        record["passed"] = passed(record)
        levels[0]["results"][system.key] = record
        account(system, 1, record)
    for i, connections in enumerate(config["sweep_connections"]):
        if not climbing:
            break
        level: dict = {"connections": connections, "results": {}}
        for system in rotated([s for s in systems if s.key in climbing], i):
            log(f"p99 < 5 ms sweep, {connections} connections: {system.label}")
            record = run(system, connections)
            if not record["passed"]:
                log(f"p99 < 5 ms sweep, {connections} connections: {system.label} failed (p99 "
                    f"{record['latency_us']['p99']:,} µs, {record['error_total']} errors); retrying once")
                retry = run(system, connections)
                retry["first_attempt"] = record
                record = retry
            level["results"][system.key] = record
            account(system, connections, record)
        levels.append(level)
    return {"levels": levels, "best": best, "ceiling": {k: (k in climbing) for k in best}}


def measure_streaming(systems: list[System], config: dict) -> dict:
    """Sequential streams (TTFT, gaps), interleaved rounds; then K concurrent streams per level."""
    ttft: dict[str, list[float]] = {s.key: [] for s in systems}
    gaps: dict[str, list[float]] = {s.key: [] for s in systems}
    failures: dict[str, int] = {s.key: 0 for s in systems}
    expected_ms = (STREAM_CHUNKS - 1) * STREAM_INTERVAL_MS

    async def warm_up() -> None:  # one stream each, together: the client's and servers' first-use costs
        await asyncio.gather(*(run_streams(s.url, STREAM_BODY, 1, False, timeout_s=5) for s in systems))

    asyncio.run(warm_up())
    for r in range(config["stream_rounds"]):
        for system in rotated(systems, r):
            log(f"streaming, round {r + 1}/{config['stream_rounds']}: {system.label}")
            results = asyncio.run(run_streams(system.url, STREAM_BODY, config["stream_count"], False,
                                              timeout_s=config["stream_count"] * (expected_ms / 1000 + 5)))
            for result in results:
                if not result.done or len(result.events_ns) != STREAM_CHUNKS:
                    failures[system.key] += 1
                    continue
                ttft[system.key].append(result.ttft_ms)
                gaps[system.key].extend(result.gaps_ms)
    summary: dict[str, dict] = {}
    for system in systems:
        t, g = ttft[system.key], gaps[system.key]
        entry = {
            "streams_ok": len(t), "streams_failed": failures[system.key],
            "ttft_p50_ms": median(t), "ttft_p99_ms": percentile(t, 99),
            "gap_mean_ms": statistics.fmean(g) if g else None,
            "gap_p50_ms": median(g), "gap_p99_ms": percentile(g, 99),
            # Whole stream delivered in one go: the first chunk waits for the last.
            "buffered": bool(t) and median(t) > 0.8 * expected_ms,
        }
        summary[system.key] = entry
    base = summary.get("direct", {})
    for system in systems:
        entry = summary[system.key]
        if system.key == "direct" or not entry["streams_ok"] or not base.get("streams_ok"):
            continue
        entry["added_ttft_p50_ms"] = entry["ttft_p50_ms"] - base["ttft_p50_ms"]
        entry["added_ttft_p99_ms"] = entry["ttft_p99_ms"] - base["ttft_p99_ms"]
        entry["added_gap_mean_ms"] = entry["gap_mean_ms"] - base["gap_mean_ms"]
        entry["added_gap_p99_ms"] = entry["gap_p99_ms"] - base["gap_p99_ms"]

    # Highest level first: a system that holds it is done; one that stalls tries the next lower.
    # Quick mode skips the three stack combinations that are not the floor: they only choose
    # the stack, and holding streams is the proxy's and the floor's figure.
    held_systems = [s for s in systems
                    if config["held_all_systems"] or s.key == FLOOR or not any(s.key == p[0] for p in PASSTHROUGHS)]
    tried = sorted(config["stream_levels"])
    levels: list[dict] = [{"streams": k, "results": {}} for k in tried]
    held: dict[str, int | None] = {s.key: None for s in systems}
    unsettled = {s.key for s in held_systems}
    for level in reversed(levels):
        k = level["streams"]
        ramp_s = k / HELD_OPEN_RATE
        for system in held_systems:
            if system.key not in unsettled:
                continue
            log(f"{k} concurrent streams: {system.label}")
            results = asyncio.run(run_streams(
                system.url, HELD_STREAM_BODY, k, True,
                timeout_s=ramp_s + (HELD_CHUNKS - 1) * HELD_INTERVAL_MS / 1000 + 5, ramp_s=ramp_s))
            # A proxy that drops unknown request members (Lite does) gets the ordinary stream:
            # it counts the same way, by its own chunks.
            report = stall_report(results, HELD_INTERVAL_MS + HELD_LATE_MS, {HELD_CHUNKS, STREAM_CHUNKS},
                                  STREAM_TTFT_LIMIT_MS)
            level["results"][system.key] = report
            if report["stalled"] == 0:
                held[system.key] = k
                unsettled.discard(system.key)
    for key in unsettled:
        held[key] = 0
    return {"chunks": STREAM_CHUNKS, "interval_ms": STREAM_INTERVAL_MS, "summary": summary,
            "concurrent": {"levels": levels, "held_without_stall": held, "tried": tried,
                           "chunks": HELD_CHUNKS, "interval_ms": HELD_INTERVAL_MS, "late_ms": HELD_LATE_MS}}


def measure_long_run(system: System, requests_target: int, segment_s: int, budget_s: float) -> dict:
    """Drives wrk -c64 in segments until `requests_target` requests (or the time budget) and
    samples VmRSS after each segment."""
    samples = [{"requests": 0, "rss_kib": rss_kib(system.pid)}]
    total = 0
    errors = 0
    started = time.monotonic()
    while total < requests_target and time.monotonic() - started < budget_s:
        record = wrk(system.url, 64, 2, segment_s)
        total += record["requests"]
        errors += record["error_total"]
        samples.append({"requests": total, "rss_kib": rss_kib(system.pid), "rps": record["rps"]})
        log(f"long run {system.label}: {total:,} requests, VmRSS {samples[-1]['rss_kib']} KiB")
    time.sleep(2)
    after = rss_kib(system.pid)
    warm = samples[1]["rss_kib"] if len(samples) > 1 else samples[0]["rss_kib"]
    return {
        "requests": total, "errors": errors, "seconds": round(time.monotonic() - started, 1),
        "reached_target": total >= requests_target, "samples": samples,
        "rss_after_idle_kib": after,
        "growth_after_first_segment_kib": (samples[-1]["rss_kib"] - warm)
        if samples[-1]["rss_kib"] is not None and warm is not None else None,
    }


# ---------------------------------------------------------------------------------------------
# Environment description


def measure_routing(binary: str, iterations: int) -> dict:
    """The engine's in-process routing benchmark (`modelmesh-routing-bench --json`), run while
    no server is busy: a pool of ten mock models, the direct provider call as its baseline."""
    log(f"in-process routing: {iterations:,} iterations per figure")
    done = subprocess.run([binary, "--iterations", str(iterations), "--json"],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"modelmesh-routing-bench failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def command_output(command: list[str]) -> str:
    """What `command` prints (standard output, else standard error), or "unknown"."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        return done.stdout.strip() or done.stderr.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def machine_description(lite_python: str, nginx: str) -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    lite_version = command_output(
        [lite_python, "-c", "import importlib.metadata as m; print(m.version('modelmesh-lite'))"])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "swift": command_output(["swift", "--version"]).splitlines()[0] if command_output(["swift", "--version"]) else "unknown",
        "python": command_output([lite_python, "--version"]),
        "modelmesh_lite": lite_version,
        "wrk": " ".join(command_output(["sh", "-c", "wrk --version 2>&1 | head -1"]).split()[:2]),
        "nginx": command_output([nginx, "-v"]).replace("nginx version: ", "") if nginx else "nginx not installed",
        "git_commit": command_output(["git", "-C", str(SCRIPTS.parent), "rev-parse", "--short", "HEAD"]),
        "load_average_start": os.getloadavg(),
    }


class MachineShare:
    """The machine's CPU time spent outside the benchmark while it measures: other processes'
    work and the hypervisor's steal. A load average cannot tell this, since the benchmark's
    own load is in it."""

    def __init__(self) -> None:
        self.start_busy, self.start_own, self.started = self._busy_ticks(), self._own_ticks(), time.monotonic()

    @staticmethod
    def _busy_ticks() -> int:
        # cpu  user nice system idle iowait irq softirq steal ...
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return sum(fields) - fields[3] - fields[4]

    @staticmethod
    def _own_ticks() -> int:
        """CPU of this process, the children it has reaped (wrk), and every live descendant
        with the children it reaped (the servers), plus PostgreSQL's processes (started for
        the benchmark by scripts/bench, outside this process tree)."""
        me = os.getpid()
        stats: dict[int, list[str]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            name_end = text.rfind(")")
            stats[int(entry.name)] = [text[text.find("(") + 1:name_end]] + text[name_end + 2:].split()
        ticks = 0
        for pid, fields in stats.items():
            ancestor, hops = pid, 0
            while ancestor not in (me, 0, 1) and ancestor in stats and hops < 64:
                ancestor, hops = int(stats[ancestor][2]), hops + 1
            if pid != me and (ancestor == me or fields[0] == "postgres"):
                ticks += sum(int(x) for x in fields[12:16])  # utime stime cutime cstime
        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds = own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
        return ticks + round(seconds * CLOCK_TICKS)

    def report(self) -> dict:
        elapsed = time.monotonic() - self.started
        busy = (self._busy_ticks() - self.start_busy) / CLOCK_TICKS
        own = (self._own_ticks() - self.start_own) / CLOCK_TICKS
        capacity = elapsed * (os.cpu_count() or 1)
        other = max(0.0, busy - own)
        return {"elapsed_s": round(elapsed, 1), "busy_cpu_s": round(busy, 1), "benchmark_cpu_s": round(own, 1),
                "other_cpu_s": round(other, 1), "other_share": round(other / capacity, 4) if capacity else None}


# ---------------------------------------------------------------------------------------------
# Reporting


def fmt(value, unit: str = "", digits: int = 0, signed: bool = False) -> str:
    if value is None:
        return "—"
    text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    return f"{text}{unit}"


def mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.1f} MB"


def us(value, signed: bool = False) -> str:
    return fmt(value, " µs", signed=signed)


def system_rows(results: dict, header: list[str], cells) -> tuple[list[str], list[list[str]]]:
    """One row per measured system: its label, then `cells(key)` (— where a figure is missing)."""
    rows = []
    for s in results["systems"]:
        if not s["available"]:
            continue
        try:
            rows.append([s["label"]] + cells(s["key"]))
        except (KeyError, TypeError):
            rows.append([s["label"]] + ["—"] * (len(header) - 1))
    return header, rows


def request_table(results: dict) -> tuple[list[str], list[list[str]]]:
    m = results["measurements"]
    lat, tp = m["latency"]["summary"], m["throughput"]["summary"]
    sweep = m["sweep"]

    def cells(k: str) -> list[str]:
        added = "baseline" if k == "direct" else " / ".join(us(lat[k][f"added_{q}"], True) for q in ("p50", "p90", "p99"))
        t = tp[k]
        rps = fmt(t["rps"], " req/s") + (f" ({t['errors']:,} errors)" if t["errors"] else "")
        floor = "—" if k == "direct" or "ratio_floor_rps" not in t else f"{t['ratio_floor_rps'] * 100:.0f} %"
        b = sweep["best"][k]
        best = "p99 ≥ 5 ms at 1" if b is None else (
            f"{fmt(b['rps'], ' req/s')} (c={b['connections']}{', top level' if sweep['ceiling'][k] else ''})")
        cpu = us(t["cpu_us_per_request"]) + (" (upstream)" if k == "direct" else "")
        return [us(lat[k]["p50"]), added, rps, us(t["p99_us"]), floor, cpu, best]

    header = ["System", "c=1 p50", "Added c=1 p50 / p90 / p99", "Throughput c=64", "p99 c=64",
              "÷ bare-NIO floor", "CPU per request", "Best rate with p99 < 5 ms"]
    return system_rows(results, header, cells)


def streams_table(results: dict) -> tuple[list[str], list[list[str]]]:
    st = results["measurements"]["streaming"]
    ss, cc = st["summary"], st["concurrent"]

    def held(k: str) -> str:
        h = cc["held_without_stall"].get(k)
        if h is None:
            return "— (not measured in this mode)"
        failed = [lv for lv in cc["levels"] if k in lv["results"] and lv["results"][k]["stalled"]]
        if not failed:
            return f"{h:,} (the top level)"
        lowest = min(failed, key=lambda lv: lv["streams"])
        rep = lowest["results"][k]
        return (f"{h:,} (at {lowest['streams']:,}: {rep['stalled']:,} stalled, {rep['incomplete']:,} incomplete, "
                f"worst gap {fmt(rep['worst_gap_ms'], ' ms')})")

    def ms(value, signed: bool = False) -> str:
        return fmt(value, " ms", 2, signed)

    def cells(k: str) -> list[str]:
        e = ss[k]
        if k == "direct":
            added_ttft = added_gap = "baseline"
        else:
            added_ttft = f"{ms(e['added_ttft_p50_ms'], True)} / {ms(e['added_ttft_p99_ms'], True)}"
            added_gap = "n/a (buffered)" if e["buffered"] else (
                f"{ms(e['added_gap_mean_ms'], True)} / {ms(e['added_gap_p99_ms'], True)}")
        return [ms(e["ttft_p50_ms"]) + (" (buffered)" if e["buffered"] else ""), added_ttft,
                f"{ms(e['gap_mean_ms'])} / {ms(e['gap_p99_ms'])}", added_gap, held(k)]

    header = ["System", "TTFT p50", "Added TTFT p50 / p99", "Chunk gap mean / p99", "Added gap mean / p99",
              "Concurrent streams, no stall"]
    return system_rows(results, header, cells)


def memory_table(results: dict) -> tuple[list[str], list[list[str]]]:
    m = results["measurements"]
    rss, tp, lr = m["rss"], m["throughput"]["summary"], m.get("long_run", {})

    def cells(k: str) -> list[str]:
        r = rss[k]
        row = [mib(r["idle_kib"]), f"{mib(r['idle_anon_kib'])} / {mib(r['idle_file_kib'])}",
               mib(tp[k]["rss_peak_kib"]), mib(r["after_kib"])]
        if lr:
            row.append(f"{lr[k]['growth_after_first_segment_kib'] / 1024:+.1f} MB over {lr[k]['requests']:,} requests"
                       if k in lr else "—")
        return row

    header = ["System", "RSS idle", "of which private / mapped files", "RSS loaded (peak, c=64)", "RSS after the run"]
    if lr:
        header.append("Long run: RSS growth")
    return system_rows(results, header, cells)


def targets_table(results: dict) -> tuple[list[str], list[list[str]]]:
    """Each target of the issue: its threshold (from the bare-NIO floor of this run where it is
    relative), ModelMesh's value, met or not and by how much."""
    m = results["measurements"]
    available = {s["key"] for s in results["systems"] if s["available"]}
    lat, tp = m["latency"]["summary"], m["throughput"]["summary"]
    rows: list[list[str]] = []
    if "modelmesh" not in available:
        return ["Target"], [["not measured: `modelmesh serve` did not run"]]
    floor = FLOOR in available

    def verdict(ok: bool, gap: str) -> str:
        return "met" if ok else f"not met ({gap})"

    if floor:
        # A floor cannot take latency away: a negative added figure is noise and counts as 0.
        limit = max(0, lat[FLOOR]["added_p50"]) + TARGET_ADDED_P50_US
        value = lat["modelmesh"]["added_p50"]
        rows.append([f"Added p50 at c=1 ≤ floor's + {TARGET_ADDED_P50_US} µs", f"≤ {us(limit, True)}", us(value, True),
                     verdict(value <= limit, f"{us(value - limit, True)} over")])
        limit = TARGET_P99_FACTOR * max(0, lat[FLOOR]["added_p99"])
        value = lat["modelmesh"]["added_p99"]
        rows.append([f"Added p99 at c=1 ≤ {TARGET_P99_FACTOR} × floor's", f"≤ {us(limit, True)}", us(value, True),
                     verdict(value <= limit, f"{us(value - limit, True)} over")])
        limit = TARGET_RPS_SHARE * tp[FLOOR]["rps"]
        value = tp["modelmesh"]["rps"]
        rows.append([f"Throughput c=64 ≥ {TARGET_RPS_SHARE * 100:.0f} % of the floor", f"≥ {fmt(limit, ' req/s')}",
                     f"{fmt(value, ' req/s')} ({tp['modelmesh']['ratio_floor_rps'] * 100:.0f} % of the floor)",
                     verdict(value >= limit, f"{fmt(limit - value, ' req/s')} short")])
    else:
        rows.append(["Targets relative to the bare-NIO floor", "floor not measured", "—", "—"])
    value = tp["modelmesh"]["rps"]
    rows.append([f"Throughput c=64 ≥ {TARGET_RPS_ABSOLUTE:,} req/s (this machine)", f"≥ {TARGET_RPS_ABSOLUTE:,} req/s",
                 fmt(value, " req/s"), verdict(value >= TARGET_RPS_ABSOLUTE, f"{fmt(TARGET_RPS_ABSOLUTE - value, ' req/s')} short")])
    value = tp["modelmesh"]["cpu_us_per_request"]
    if value is not None:
        rows.append([f"CPU per routed request ≤ {TARGET_CPU_US} µs", f"≤ {TARGET_CPU_US} µs", us(value),
                     verdict(value <= TARGET_CPU_US, f"{us(value - TARGET_CPU_US, True)} over")])
    cc = m["streaming"]["concurrent"]
    wanted = max(cc["tried"])
    value = cc["held_without_stall"]["modelmesh"]
    client_bound = "; the direct call stalls there too: client-bound" if cc["held_without_stall"]["direct"] < wanted else ""
    rows.append([f"{wanted:,} concurrent streams without a stall", f"{wanted:,}", f"{value:,}",
                 verdict(value >= wanted, f"stalls at {next((x for x in cc['tried'] if x > value), wanted):,}{client_bound}")])
    value = m["rss"]["modelmesh"]["idle_kib"]
    rows.append([f"Idle RSS ≤ {TARGET_IDLE_RSS_KIB // 1024} MB", f"≤ {TARGET_IDLE_RSS_KIB // 1024} MB", mib(value),
                 verdict(value <= TARGET_IDLE_RSS_KIB, f"{(value - TARGET_IDLE_RSS_KIB) / 1024:+.1f} MB over")])
    long_run = m.get("long_run", {}).get("modelmesh")
    if long_run:
        value = long_run["growth_after_first_segment_kib"]
        enough = long_run["reached_target"]
        rows.append([f"No RSS growth over {long_run['requests']:,} requests",
                     f"≤ {TARGET_GROWTH_KIB // 1024} MB after the first segment", f"{value / 1024:+.1f} MB",
                     verdict(value <= TARGET_GROWTH_KIB and enough,
                             f"{(value - TARGET_GROWTH_KIB) / 1024:+.1f} MB over" if enough else "too few requests")])
    else:
        rows.append(["No RSS growth over 1,000,000 requests", "—", "not measured (`--long` or `--growth` only)", "—"])
    return ["Target (from the issue)", "Threshold in this run", "ModelMesh (Swift)", "Verdict"], rows


def not_measured(results: dict) -> list[str]:
    return [f"{s['label']}: {s['reason']}" for s in results["systems"] if not s["available"]]


def routing_table_rows(routing: dict) -> tuple[list[str], list[list[str]]]:
    """One row per rotation strategy: decision alone, whole routed call, and what routing adds
    to the direct provider call measured in the same run."""
    figures = routing["figures"]
    direct = next(f["nanoseconds"] for f in figures if f.get("strategy") is None)
    header = ["Pool strategy (10 models)", "Routing decision", "Routed call", "Added by routing", "Routed ÷ direct"]
    rows = [["direct provider call (baseline)", "—", fmt(direct, " ns"), "—", "×1.00"]]
    strategies = list(dict.fromkeys(f["strategy"] for f in figures if f.get("strategy")))
    for strategy in strategies:
        by_name = {f["name"]: f["nanoseconds"] for f in figures if f.get("strategy") == strategy}
        rows.append([strategy, fmt(by_name["decision"], " ns"), fmt(by_name["routed"], " ns"),
                     fmt(by_name["added"], " ns", signed=True), f"×{by_name['routed'] / direct:.2f}"])
    return header, rows


def render_text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def render_markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(c: str) -> str:
        return c.replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def routing_section(results: dict, routing_table: str) -> str:
    routing = results["measurements"].get("routing")
    if not routing:
        return "The in-process routing benchmark was not run (no `modelmesh-routing-bench` binary)."
    return f"""### In-process routing decision

`modelmesh-routing-bench --iterations {routing['iterations']:,} --json`, run before any server
starts: a `Mesh` with a pool of {routing['poolSize']} models, each on a mock provider that answers at
once. The baseline is that provider called directly; "routing decision" is `Mesh.decide` (resolve
the pool, filter, order), "routed call" is `Mesh.route` (decision, the call, usage and health
bookkeeping, events). Mean over the iterations, after a warm-up.

{routing_table}"""


def minutes_seconds(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s"


def render_doc(results: dict, tables: dict[str, str], json_path: str) -> str:
    mc = results["machine"]
    cfg = results["config"]
    other = results.get("other_work")
    if other and other["other_share"] is not None:
        noisy = other["other_share"] > OTHER_WORK_NOISY
        other_text = (f"- Other work during the measurement: {other['other_cpu_s']:.1f} CPU-seconds of "
                      f"{other['elapsed_s'] * (mc['cores'] or 1):.0f} ({100 * other['other_share']:.1f} % of the machine; "
                      f"the benchmark's own processes used {other['benchmark_cpu_s']:.0f})"
                      + (" — **over 5 %: treat the timings as noisy**" if noisy else " — a quiet machine") + "\n")
    else:  # results from before this was recorded
        noisy = max(mc["load_average_start"][0], results.get("load_average_end", [0])[0]) > 0.5 * (mc["cores"] or 1)
        other_text = ""
    missing = not_measured(results)
    missing_text = ("Not measured in this run: " + "; ".join(missing) + ".\n\n") if missing else ""
    levels = ", ".join(f"{x:,}" for x in sorted(cfg["stream_levels"]))
    held_scope = ("every system" if cfg.get("held_all_systems", True) else
                  "every system but the three non-floor stack combinations (`--long` measures those too)")
    long_seconds = sum(r["seconds"] for r in results["measurements"].get("long_run", {}).values())
    long_share = f", of which the long run {minutes_seconds(long_seconds)}" if long_seconds else ""
    lite_long = f" (Lite: until {cfg['lite_long_budget_s']} s)" if cfg["lite_long_budget_s"] else " (ModelMesh only)"
    long_run = (f"""- **Long run**{' (`--growth`)' if cfg.get('growth') else ''}: wrk -c64 in {cfg['long_segment_s']} s segments until at least
  {cfg['long_requests']:,} requests{lite_long}, VmRSS after each segment; growth =
  last sample − sample after the first segment.""" if cfg["long_requests"]
                else "- **Long run**: `--long` or `--growth` only (1,000,000 requests through ModelMesh, RSS sampled).")
    return f"""# Proxy benchmark

Generated by `scripts/bench` — do not edit by hand; rerun the command instead.

- Command: `{results['command']}` ({results['mode']} mode), {results['started']} to {results['finished']};
  measurement (after the build) {minutes_seconds(results['measurement_seconds'])}{long_share}
- Machine: {mc['cpu']}, {mc['cores']} cores, Linux {mc['kernel']}
- Versions: {mc['swift']}; {mc['nginx']}; {mc['python']}; modelmesh-lite {mc['modelmesh_lite']}; {mc['wrk']}; ModelMesh commit {mc['git_commit']}
- Load average at start / end: {', '.join(f'{x:.2f}' for x in mc['load_average_start'])} / {', '.join(f'{x:.2f}' for x in results.get('load_average_end', []))}{' — **other work was running: treat the timings as noisy**' if noisy and not other_text else ''}
{other_text}- Raw results: `{json_path}`

## Targets

The proxy's targets; the relative ones are computed from the bare-NIO floor measured in this run
(a negative added latency of the floor is noise and counts as 0).

{tables['targets']}

## Requests

"Added" is the system's figure minus the direct call's in the same round (median over rounds).

{tables['requests']}

## Streams

{tables['streams']}

## Memory

{tables['memory']}

{missing_text}{routing_section(results, tables.get('routing', ''))}

## What the systems are

- **Direct**: the load generator calls the fake upstream (`modelmesh-fake-upstream`, SwiftNIO, one
  event loop, answers at once with a fixed completion) itself. This is the baseline.
- **nginx proxy_pass (floor)**: Debian's nginx, one worker, `proxy_pass` to an `upstream` block
  with `keepalive 64`, `proxy_http_version 1.1`, `proxy_set_header Connection ""`,
  `proxy_buffering off` (streams pass through), `access_log off`. CPU and RSS are the worker's.
- **Bare NIO pass-through (floor)** and the three other combinations: `modelmesh-passthrough`
  (`Sources/PassthroughFloor`), a proxy with no routing and no JSON: each request (method, path,
  end-to-end headers, body) goes to the fake upstream over keep-alive connections, the answer
  comes back part by part. `--server nio` is a `ServerBootstrap` with NIO's HTTP/1.1 pipeline,
  `--server hummingbird` a Hummingbird 2 `Application` with one responder; `--client nio` is a
  pool of keep-alive connections per event loop (a request uses a connection of its own loop),
  `--client ahc` an AsyncHTTPClient on the same event loops. The Hummingbird responder forwards
  with the connection's event loop as its task executor (Hummingbird's own request and response
  handling stays on Swift's concurrency threads). Event loops: NIO's shared group (one per core),
  as `modelmesh serve` uses. The bare-NIO combination is the floor the targets refer to.
- **ModelMesh (Swift)**: `modelmesh serve` (release build, `--static-swift-stdlib`) with one
  `openai.llm.v1` provider whose `base_url` is the fake upstream, one model (priced), one pool
  `chat`, observability `modelmesh.null.v1`, no budget or rate limits,
  `proxy.limits.max_connections: 16384` (the default 4,096 is below `--long`'s 5,000 streams).
- **ModelMesh, budget limit in memory**: the same with `budget: {{daily_limit: 1000000}}`: every
  request reserves its worst case before the call and settles after it, in the process.
- **ModelMesh, budget limit on PostgreSQL**: the same limit with
  `storage: {{connector: modelmesh.postgres.v1}}` on a local PostgreSQL (Debian's package,
  started by the script on loopback): the reservation is one round trip to the database before
  the upstream call, and the settlement is written after the answer, off the request path.
- **ModelMesh Lite (Python)**: `modelmesh-lite` from PyPI in a fresh venv, its stock
  `ProxyServer` started by `scripts/bench_modelmesh_lite.py` with an `OpenAIProvider` built in
  code (Lite does not instantiate providers declared in YAML). Its server is the stdlib
  single-threaded `HTTPServer` speaking HTTP/1.0 (one connection per request), and its OpenAI
  connector reads the whole upstream SSE body before yielding a chunk: both are how the package
  ships.

Every system gets the same request body, on 127.0.0.1, in the same run. Measurements are
interleaved: each round runs every system once, the order rotating between rounds.

## How each figure is measured

- **Latency c=1** ({cfg['latency_rounds']} rounds × {cfg['latency_s']} s per system): `wrk -t1 -c1` with
  `scripts/bench_wrk.lua`, whose `done()` hook prints wrk's exact latency percentiles in
  microseconds (from write to complete response on one keep-alive connection; Lite closes the
  connection after each answer, so wrk reconnects and the connect time is outside the figure).
- **Throughput c=64** ({cfg['tput_rounds']} rounds × {cfg['tput_s']} s): `wrk -t2 -c64`, closed loop, requests/s;
  errors are wrk's connect/read/write/timeout (2 s) counts plus non-2xx answers. "÷ bare-NIO
  floor" is the system's rate over the floor's in the same round.
- **CPU per request**: `utime + stime` of the server process (all threads) from
  `/proc/<pid>/stat`, read before and after each c=64 run, divided by the requests completed in
  it; the median over rounds. On the direct row it is the fake upstream's own cost. The
  PostgreSQL column does not include the database's CPU.
- **Best rate with p99 < 5 ms**: wrk is closed-loop (each connection sends its next request when
  the answer arrives), so instead of an offered rate the load is stepped by connections: 1 (the
  latency measurement above), then {', '.join(str(c) for c in cfg['sweep_connections'])}, {cfg['sweep_s']} s each. Every level runs
  all systems still climbing; a system stops at its first level with p99 ≥ 5 ms or an error (a
  failed level is run once more first, since other load only ever makes it worse). The figure
  is the highest requests/s among its passing levels, with that level's connection count ("top
  level" if it never failed). A closed loop understates tail latency next to an open-loop generator: a stall
  delays that connection's next request instead of queueing it.
- **Streams** (fake upstream: {STREAM_CHUNKS} chunks, the first at once, then one every
  {STREAM_INTERVAL_MS} ms): `scripts/bench_streams.py`, an asyncio client on raw sockets that stamps
  every SSE `data:` event with `perf_counter_ns()` at the read that completed it.
  {cfg['stream_rounds']} rounds × {cfg['stream_count']} sequential streams per system.
  TTFT = first content event − request sent; gap = time between consecutive content events;
  "added" = system − direct. "(buffered)" marks a proxy whose first chunk arrives only with the
  whole stream (median TTFT above 80 % of the stream's length).
- **Concurrent streams** ({held_scope}): K *held* streams at once, K in {levels}, opened at
  {HELD_OPEN_RATE:,} a second; a held stream (`"bench_hold": true` in the request, passed through
  to the fake upstream like any unknown member) has {HELD_CHUNKS} chunks {HELD_INTERVAL_MS:,} ms apart, slow on
  purpose: the level measures how many streams a proxy keeps open, not how many chunks a second a
  machine shared by client, proxy and upstream can relay (a proxy that drops unknown members, as
  Lite does, gets the ordinary stream, judged by the same limits). A stream *stalls* if a chunk comes over
  {HELD_LATE_MS} ms late (a gap over {HELD_INTERVAL_MS + HELD_LATE_MS:,} ms), its first token takes over
  {STREAM_TTFT_LIMIT_MS:.0f} ms, or it does not end with all chunks and `[DONE]`. The highest level
  is tried first; a system that stalls there tries the next lower. The figure is the largest K
  with no stalled stream. If the direct row stalls too, the client or the machine is the limit,
  not the proxy.
- **RSS**: `VmRSS` from `/proc/<pid>/status`: right after start (one request served), the peak
  sampled every 0.2 s during the c=64 runs, and after all measurements. The idle figure is split
  into `RssAnon` (private: heap, stacks) and `RssFile` (mapped executable and libraries: shared,
  evictable, larger when the files are in the page cache).
{long_run}

## Interpretation limits

The load generator, the fake upstream and the proxy share the machine's cores, so absolute
numbers measure this machine as much as the proxy; ratios to the direct call and to the floors
of the same run are the figures to compare across machines. On a virtual machine even a quiet
run (no other process, no steal) shares the host's caches and memory bandwidth with its
neighbours, and that slows a stack with a large working set more than a small one (two quiet
runs 20 minutes apart on this 2-core machine differed by about 60 % in CPU per request for
ModelMesh and for Hummingbird + AsyncHTTPClient, and by under 10 % for the bare-NIO floor).
The Hummingbird and AsyncHTTPClient rows, whose code does not change between runs, show how a
run compares with another.
"""


# ---------------------------------------------------------------------------------------------
# Main


def nginx_config(directory: Path, port: int, upstream_port: int) -> str:
    """One worker proxying to the fake upstream over keep-alive connections, unbuffered, with
    every file it writes in `directory`."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would else run as nobody
    temp = "".join(f"    {name}_temp_path {directory}/{name};\n"
                   for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""# Written by scripts/bench.
{user}daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 20000; }}
http {{
    access_log off;
{temp}    upstream fake_upstream {{
        server {HOST}:{upstream_port};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen {HOST}:{port} backlog=4096;
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://fake_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description="Measuring half of scripts/bench.")
    parser.add_argument("--mode", choices=sorted(MODES), default="quick")
    parser.add_argument("--growth", action="store_true",
                        help="add --long's 1,000,000-request memory run through ModelMesh (not Lite)")
    parser.add_argument("--out", required=True, help="directory for <timestamp>.json")
    parser.add_argument("--doc", required=True, help="docs/benchmarks.md to regenerate")
    parser.add_argument("--fake-upstream", required=True, help="modelmesh-fake-upstream binary")
    parser.add_argument("--passthrough", default="", help="modelmesh-passthrough binary, or empty")
    parser.add_argument("--nginx", default="", help="nginx binary, or empty")
    parser.add_argument("--modelmesh", default="", help="modelmesh binary with `serve`, or empty")
    parser.add_argument("--modelmesh-missing", default="", help="why ModelMesh is not measured")
    parser.add_argument("--postgres-url", default="", help="a PostgreSQL server for the shared-budget column, or empty")
    parser.add_argument("--postgres-missing", default="", help="why the PostgreSQL column is not measured")
    parser.add_argument("--routing-bench", default="", help="modelmesh-routing-bench binary, or empty")
    parser.add_argument("--lite-python", required=True, help="python of the venv with modelmesh-lite")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--pid-file", required=True)
    parser.add_argument("--command-line", default="scripts/bench")
    args = parser.parse_args()

    config = dict(MODES[args.mode])
    if args.growth and not config["long_requests"]:
        config.update(long_requests=MODES["long"]["long_requests"], long_segment_s=10, lite_long_budget_s=0)
    config["growth"] = args.growth
    work_dir = Path(args.work_dir)
    processes = Processes(Path(args.pid_file), work_dir)

    def on_signal(signum, _frame):
        processes.stop_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    measure_started = time.monotonic()
    machine_share = MachineShare()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        machine = machine_description(args.lite_python, args.nginx)
        routing = measure_routing(args.routing_bench, config["routing_iterations"]) if args.routing_bench else None
        direct = System("direct", "Direct (fake upstream)")
        nginx = System("nginx", "nginx proxy_pass (floor)")
        passthroughs = [(System(key, label), server, client) for key, label, server, client in PASSTHROUGHS]
        swift = System("modelmesh", "ModelMesh (Swift)")
        swift_memory = System("modelmesh-limits", "ModelMesh, budget limit in memory")
        swift_pg = System("modelmesh-pg", "ModelMesh, budget limit on PostgreSQL")
        lite = System("lite", "ModelMesh Lite (Python)")

        process, log_path = processes.start("fake-upstream", [
            args.fake_upstream, "--host", HOST, "--port", "0",
            "--chunks", str(STREAM_CHUNKS), "--interval-ms", str(STREAM_INTERVAL_MS),
            "--held-chunks", str(HELD_CHUNKS), "--held-interval-ms", str(HELD_INTERVAL_MS)])
        match = wait_for_line(process, log_path, r"listening on [\d.]+:(\d+)", 15)
        if not match:
            raise RuntimeError(f"the fake upstream did not start; see {log_path}")
        direct.port, direct.pid, direct.process = int(match.group(1)), process.pid, process
        upstream = f"http://{HOST}:{direct.port}"
        wait_until_forwarding(direct, 10)
        if not direct.available:
            raise RuntimeError(f"the fake upstream does not answer: {direct.reason}")
        log(f"fake upstream on {upstream} (pid {direct.pid})")

        def started_as(system: System, detail: str) -> None:
            log(f"{system.label}: {'port %d, pid %d' % (system.port, system.pid) if system.available else system.reason}")
            if not system.available:
                system.reason = f"{system.reason} ({detail})"

        if args.nginx:
            nginx_dir = work_dir / "nginx"
            nginx_dir.mkdir()
            nginx.port = free_port()
            (nginx_dir / "nginx.conf").write_text(nginx_config(nginx_dir, nginx.port, direct.port))
            nginx.process, log_path = processes.start("nginx", [
                args.nginx, "-p", str(nginx_dir), "-e", str(nginx_dir / "error.log"),
                "-c", str(nginx_dir / "nginx.conf")])
            wait_until_forwarding(nginx, 15)
            # The master only supervises: CPU and memory are the worker's.
            workers = child_pids(nginx.process.pid)
            nginx.pid = workers[0] if workers else nginx.process.pid
            for pid in workers:
                processes.record(pid)
            started_as(nginx, f"log: {log_path}, {nginx_dir / 'error.log'}")
        else:
            nginx.reason = "nginx is not installed (apt-get install nginx)"

        for system, server, client in passthroughs:
            if not args.passthrough:
                system.reason = "no modelmesh-passthrough binary"
                continue
            system.process, log_path = processes.start(f"passthrough-{server}-{client}", [
                args.passthrough, "--host", HOST, "--port", "0", "--upstream", f"{HOST}:{direct.port}",
                "--server", server, "--client", client])
            system.pid = system.process.pid
            match = wait_for_line(system.process, log_path, r"listening on [\d.]+:(\d+)", 15)
            if match:
                system.port = int(match.group(1))
                wait_until_forwarding(system, 15)
            else:
                system.reason = "did not start"
            started_as(system, f"log: {log_path}")

        def start_modelmesh(system: System, name: str, extra: str) -> None:
            """`modelmesh serve` on the fake upstream, with `extra` appended to its configuration."""
            config_path = work_dir / f"{name}.yaml"
            config_path.write_text(
                "# Written by scripts/bench.\n"
                "providers:\n"
                "  fake-upstream:\n"
                "    connector: openai.llm.v1\n"
                f"    base_url: {upstream}/v1\n"
                "    api_key: bench-dummy-key\n"
                "models:\n"
                "  openai.gpt-4o-mini:\n"
                "    provider: fake-upstream\n"
                "    capabilities: [chat-completion]\n"
                "    pricing: {input_per_1m: 0.15, output_per_1m: 0.6}\n"
                "pools:\n"
                "  chat:\n"
                "    models: [openai.gpt-4o-mini]\n"
                "observability:\n"
                "  connector: modelmesh.null.v1\n"
                # The default (4,096 client connections) is below --long's 5,000-stream level.
                "proxy:\n"
                "  limits: {max_connections: 16384}\n" + extra)
            system.port = free_port()
            system.process, log_path = processes.start(name, [
                args.modelmesh, "serve", "--config", str(config_path), "--host", HOST, "--port", str(system.port)])
            system.pid = system.process.pid
            wait_until_forwarding(system, 60)
            started_as(system, f"log: {log_path}")

        # The limit is far above what a run spends: every request reserves and settles, none is refused.
        limit = "budget: {daily_limit: 1000000}\n"
        if args.modelmesh:
            start_modelmesh(swift, "modelmesh", "")
            start_modelmesh(swift_memory, "modelmesh-limits", limit)
            if args.postgres_url:
                start_modelmesh(swift_pg, "modelmesh-pg", limit + (
                    f"storage: {{connector: modelmesh.postgres.v1, url: '{args.postgres_url}', schema: bench_{stamp.replace('-', '_')}}}\n"))
            else:
                swift_pg.reason = args.postgres_missing or "no PostgreSQL server"
        else:
            for system in (swift, swift_memory, swift_pg):
                system.reason = args.modelmesh_missing or "modelmesh serve not available"

        lite.port = free_port()
        lite.process, log_path = processes.start("modelmesh-lite", [
            args.lite_python, str(SCRIPTS / "bench_modelmesh_lite.py"), "--host", HOST,
            "--port", str(lite.port), "--upstream", upstream])
        lite.pid = lite.process.pid
        wait_until_forwarding(lite, 30)
        started_as(lite, f"log: {log_path}")

        everyone = [direct, nginx] + [p[0] for p in passthroughs] + [swift, swift_memory, swift_pg, lite]
        active = [s for s in everyone if s.available]
        idle = {s.key: rss_kib(s.pid) for s in active}
        idle_split = {s.key: (rss_kib(s.pid, "RssAnon"), rss_kib(s.pid, "RssFile")) for s in active}
        # Warm-up, all systems at once: connection pools, lazy initialisation, page faults.
        with ThreadPoolExecutor(len(active)) as pool:
            list(pool.map(lambda system: wrk(system.url, 4, 1, config["warmup_s"]), active))

        measurements: dict = {}
        if routing:
            measurements["routing"] = routing
        measurements["latency"] = measure_latency(active, config)
        measurements["throughput"] = measure_throughput(active, config)
        measurements["sweep"] = measure_sweep(active, config, measurements["latency"])
        measurements["streaming"] = measure_streaming(active, config)
        time.sleep(2)
        measurements["rss"] = {
            s.key: {"idle_kib": idle[s.key], "idle_anon_kib": idle_split[s.key][0],
                    "idle_file_kib": idle_split[s.key][1], "after_kib": rss_kib(s.pid)}
            for s in active}
        if config["long_requests"]:
            measurements["long_run"] = {}
            for system in (swift, lite):
                if system.available and (system is not lite or config["lite_long_budget_s"] > 0):
                    budget = config["lite_long_budget_s"] if system is lite else 3600
                    measurements["long_run"][system.key] = measure_long_run(
                        system, config["long_requests"], config["long_segment_s"], budget)

        results = {
            "command": args.command_line, "mode": args.mode, "started": started,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "measurement_seconds": round(time.monotonic() - measure_started, 1), "machine": machine,
            "load_average_end": os.getloadavg(), "other_work": machine_share.report(), "config": config,
            "systems": [{"key": s.key, "label": s.label, "available": s.available, "reason": s.reason,
                         "port": s.port} for s in everyone],
            "measurements": measurements,
        }
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path = out_dir / f"{stamp}.json"
        json_path.write_text(json.dumps(results, indent=2) + "\n")
        tables = {}
        for name, build in (("targets", targets_table), ("requests", request_table),
                            ("streams", streams_table), ("memory", memory_table)):
            header, rows = build(results)
            print(f"\n{name.capitalize()}\n{render_text_table(header, rows)}")
            tables[name] = render_markdown_table(header, rows)
        if routing:
            header, rows = routing_table_rows(routing)
            print(f"\nIn-process routing\n{render_text_table(header, rows)}")
            tables["routing"] = render_markdown_table(header, rows)
        for line in not_measured(results):
            print(f"not measured: {line}")
        # The doc's own copy of the raw results sits next to it, so both are committed together.
        doc_path = Path(args.doc)
        doc_path.parent.mkdir(parents=True, exist_ok=True)
        doc_json = doc_path.with_suffix(".json")
        doc_json.write_text(json_path.read_text())
        try:
            shown = doc_json.resolve().relative_to(SCRIPTS.parent)
        except ValueError:
            shown = doc_json
        doc_path.write_text(render_doc(results, tables, str(shown)))
        log(f"results: {json_path}")
        log(f"doc: {args.doc} (raw results: {doc_json})")
        log(f"measurement took {results['measurement_seconds']:.0f} s")
        return 0
    finally:
        processes.stop_all()


if __name__ == "__main__":
    sys.exit(main())
