#!/usr/bin/env python3
"""The measuring half of scripts/bench (the bash half installs, builds and calls this).

Starts the fake upstream, `modelmesh serve` and the ModelMesh Lite proxy, measures the three
systems side by side in interleaved rounds (after the in-process routing benchmark, when
given), prints the tables, writes `<out>/<timestamp>.json` and regenerates
docs/benchmarks.md with a copy of that JSON next to it. Every process it starts is
listed in the PID file given by --pid-file (the bash trap kills them too) and is stopped on
exit. Traffic goes to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
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
# A stream "stalls" if a chunk gap exceeds 2×interval + 50 ms, its first token takes longer
# than this, or it does not end with [DONE] and all its chunks.
STREAM_TTFT_LIMIT_MS = 1000.0
RATE_P99_LIMIT_US = 5000
RATE_PACING_MS = 20  # each paced wrk connection waits on average this long between requests

MODES = {
    "quick": dict(
        latency_rounds=3, latency_s=3, tput_rounds=3, tput_s=3,
        rates=[250, 500, 1000, 2000, 5000, 10000, 20000, 30000], rate_s=3,
        stream_rounds=2, stream_count=6, stream_levels=[100, 500, 2000],
        long_requests=0, long_segment_s=0, lite_long_budget_s=0, routing_iterations=100_000,
    ),
    # For developing this harness only (bench_run.py --mode smoke); not offered by scripts/bench.
    "smoke": dict(
        latency_rounds=2, latency_s=1, tput_rounds=1, tput_s=1, rates=[250, 1000, 5000], rate_s=1,
        stream_rounds=1, stream_count=2, stream_levels=[20, 100],
        long_requests=20_000, long_segment_s=2, lite_long_budget_s=5, routing_iterations=10_000,
    ),
    "long": dict(
        latency_rounds=5, latency_s=10, tput_rounds=5, tput_s=15,
        rates=[250, 500, 1000, 2000, 5000, 10000, 15000, 20000, 25000, 30000, 40000], rate_s=8,
        stream_rounds=5, stream_count=30, stream_levels=[100, 500, 2000, 5000],
        long_requests=1_000_000, long_segment_s=20, lite_long_budget_s=600, routing_iterations=1_000_000,
    ),
}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


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


def wrk(url: str, connections: int, threads: int, seconds: float, delay_ms: int | None = None) -> dict:
    """Runs wrk with bench_wrk.lua; returns its BENCH_JSON record plus requests/s."""
    env = {**os.environ, "BENCH_BODY": CHAT_BODY}
    if delay_ms is not None:
        env["BENCH_DELAY_MS"] = str(delay_ms)
    else:
        env.pop("BENCH_DELAY_MS", None)
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
    """Concurrency 64: wrk -t2 -c64 for a fixed time, rounds interleaved; RSS peak sampled."""
    rounds: list[dict] = []
    peaks: dict[str, int] = {}
    for r in range(config["tput_rounds"]):
        this_round: dict[str, dict] = {}
        for system in rotated(systems, r):
            log(f"throughput c64, round {r + 1}/{config['tput_rounds']}: {system.label}")
            with RSSSampler({system.key: system.pid}) as sampler:
                this_round[system.key] = wrk(system.url, 64, 2, config["tput_s"])
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
        }
        if system.key != "direct":
            entry["ratio_rps"] = round(
                median([rd[system.key]["rps"] / max(1.0, rd["direct"]["rps"]) for rd in rounds]), 3
            )
        summary[system.key] = entry
    return {"rounds": rounds, "summary": summary}


def passes(record: dict, floor_rps: float) -> bool:
    """A rate step passes: p99 under the limit, no errors, and at least `floor_rps` achieved."""
    return (
        record["latency_us"]["p99"] < RATE_P99_LIMIT_US
        and record["error_total"] == 0
        and record["rps"] >= floor_rps
    )


def measure_rate_search(systems: list[System], config: dict) -> dict:
    """Climbs fixed offered rates (paced wrk connections); a system stops climbing at its first
    failure. Passing: p99 < 5 ms, no errors, achieved ≥ 80 % of the offered rate."""
    steps: list[dict] = []
    climbing = {s.key for s in systems}
    best: dict[str, dict | None] = {s.key: None for s in systems}
    for i, rate in enumerate(config["rates"]):
        if not climbing:
            break
        connections = max(2, rate * RATE_PACING_MS // 1000)
        delay_ms = max(1, round(connections * 1000 / rate))
        step: dict[str, dict] = {"rate": rate, "connections": connections, "delay_ms": delay_ms, "results": {}}
        # Direct first: a proxy must achieve 90 % of what the same paced load got from the
        # fake upstream directly (wrk's millisecond timers make the pacing itself undershoot).
        order = sorted(systems, key=lambda s: s.key != "direct")
        for system in order:
            if system.key not in climbing:
                continue
            direct_rps = step["results"].get("direct", {}).get("rps")
            floor_rps = 0.9 * direct_rps if system.key != "direct" and direct_rps else 0.7 * rate
            log(f"rate search {rate}/s ({connections} paced connections): {system.label}")
            record = wrk(system.url, connections, 2, config["rate_s"], delay_ms=delay_ms)
            record["passed"] = passes(record, floor_rps)
            if not record["passed"]:
                # Other work on the machine only ever makes a step worse: one retry.
                log(f"rate search {rate}/s: {system.label} failed (p99 {record['latency_us']['p99']} µs, "
                    f"{record['rps']} req/s, {record['error_total']} errors); retrying once")
                retry = wrk(system.url, connections, 2, config["rate_s"], delay_ms=delay_ms)
                retry["passed"] = passes(retry, floor_rps)
                retry["first_attempt"] = record
                record = retry
            step["results"][system.key] = record
            if record["passed"]:
                best[system.key] = {"offered": rate, "achieved_rps": record["rps"],
                                    "p99_us": record["latency_us"]["p99"]}
            else:
                climbing.discard(system.key)
        direct = step["results"].get("direct")
        for key, record in step["results"].items():
            if key != "direct" and direct is not None:
                record["added_p99_us"] = record["latency_us"]["p99"] - direct["latency_us"]["p99"]
                if best[key] is not None and best[key]["offered"] == rate:
                    best[key]["added_p99_us"] = record["added_p99_us"]
        steps.append(step)
    return {"steps": steps, "best": best,
            "ceiling": {k: (k in climbing) for k in best}}


def measure_streaming(systems: list[System], config: dict) -> dict:
    """Sequential streams (TTFT, gaps), interleaved rounds; then K concurrent streams per level."""
    ttft: dict[str, list[float]] = {s.key: [] for s in systems}
    gaps: dict[str, list[float]] = {s.key: [] for s in systems}
    failures: dict[str, int] = {s.key: 0 for s in systems}
    expected_ms = (STREAM_CHUNKS - 1) * STREAM_INTERVAL_MS
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

    levels: list[dict] = []
    holding = {s.key for s in systems}
    held: dict[str, int] = {s.key: 0 for s in systems}
    for k in config["stream_levels"]:
        level: dict = {"streams": k, "results": {}}
        ramp_s = min(1.0, k / 1000)
        for system in systems:
            if system.key not in holding:
                continue
            log(f"{k} concurrent streams: {system.label}")
            results = asyncio.run(run_streams(system.url, STREAM_BODY, k, True,
                                              timeout_s=ramp_s + expected_ms / 1000 + 10, ramp_s=ramp_s))
            report = stall_report(results, STREAM_INTERVAL_MS, STREAM_CHUNKS, STREAM_TTFT_LIMIT_MS)
            level["results"][system.key] = report
            if report["stalled"] == 0:
                held[system.key] = k
            else:
                holding.discard(system.key)
        levels.append(level)
    return {"chunks": STREAM_CHUNKS, "interval_ms": STREAM_INTERVAL_MS, "summary": summary,
            "concurrent": {"levels": levels, "held_without_stall": held,
                           "tried": config["stream_levels"]}}


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
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def machine_description(lite_python: str) -> dict:
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
        "git_commit": command_output(["git", "-C", str(SCRIPTS.parent), "rev-parse", "--short", "HEAD"]),
        "load_average_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------------------
# Reporting


def fmt(value, unit: str = "", digits: int = 0, signed: bool = False) -> str:
    if value is None:
        return "—"
    text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    return f"{text}{unit}"


def mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.1f} MB"


def table_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    systems = results["systems"]
    keys = [s["key"] for s in systems]
    header = ["Figure"] + [s["label"] for s in systems]
    rows: list[list[str]] = []

    def row(name: str, cell) -> None:
        cells = []
        for s in systems:
            if not s["available"]:
                cells.append("n/a")
                continue
            try:
                cells.append(cell(s["key"]))
            except (KeyError, TypeError):
                cells.append("—")
        rows.append([name] + cells)

    m = results.get("measurements", {})
    lat = m.get("latency", {}).get("summary", {})
    if lat:
        for q in ("p50", "p90", "p99"):
            row(f"Latency c=1 {q}", lambda k, q=q: fmt(lat[k][q], " µs"))
        for q in ("p50", "p90", "p99"):
            row(f"Added latency c=1 {q}", lambda k, q=q: "baseline" if k == "direct" else
                f"{fmt(lat[k][f'added_{q}'], ' µs', signed=True)} (×{lat[k][f'ratio_{q}']})")
    tp = m.get("throughput", {}).get("summary", {})
    if tp:
        row("Throughput c=64", lambda k: fmt(tp[k]["rps"], " req/s") + (
            "" if k == "direct" else f" (×{tp[k]['ratio_rps']})"))
        row("  p99 at c=64", lambda k: fmt(tp[k]["p99_us"], " µs"))
        row("  errors at c=64", lambda k: f"{tp[k]['errors']:,}")
    rs = m.get("rate_search", {})
    if rs:
        def best(k):
            b = rs["best"][k]
            if b is None:
                return "below the first step"
            text = f"{fmt(b['achieved_rps'], ' req/s')} (p99 {fmt(b['p99_us'], ' µs')})"
            return text + (" ≥ top step" if rs["ceiling"][k] else "")
        row("Highest rate with p99 < 5 ms", best)
    st = m.get("streaming", {})
    if st:
        ss = st["summary"]
        row("Stream TTFT p50", lambda k: fmt(ss[k]["ttft_p50_ms"], " ms", 2) + (" (buffered)" if ss[k]["buffered"] else ""))
        row("Added TTFT p50 / p99", lambda k: "baseline" if k == "direct" else
            f"{fmt(ss[k]['added_ttft_p50_ms'], ' ms', 2, True)} / {fmt(ss[k]['added_ttft_p99_ms'], ' ms', 2, True)}")
        row("Inter-chunk gap mean / p99", lambda k: f"{fmt(ss[k]['gap_mean_ms'], ' ms', 2)} / {fmt(ss[k]['gap_p99_ms'], ' ms', 2)}")
        row("Added gap mean / p99", lambda k: "baseline" if k == "direct" else
            "n/a (buffered)" if ss[k]["buffered"] else f"{fmt(ss[k]['added_gap_mean_ms'], ' ms', 2, True)} / {fmt(ss[k]['added_gap_p99_ms'], ' ms', 2, True)}")
        cc = st["concurrent"]

        def held(k):
            h = cc["held_without_stall"][k]
            failed = [lv for lv in cc["levels"] if k in lv["results"] and lv["results"][k]["stalled"]]
            text = f"{h:,}" if h else "0"
            if failed:
                lv = failed[0]
                rep = lv["results"][k]
                text += f" (at {lv['streams']:,}: {rep['stalled']:,} stalled, {rep['incomplete']:,} incomplete)"
            else:
                text += f" (all of {', '.join(f'{x:,}' for x in cc['tried'])})"
            return text
        row("Concurrent streams, no stall", held)
    rss = m.get("rss", {})
    if rss:
        row("RSS idle (after start)", lambda k: mib(rss[k]["idle_kib"]))
        if all("idle_anon_kib" in rss[k] for k in rss):
            row("  of which private / mapped files", lambda k: (
                f"{mib(rss[k]['idle_anon_kib'])} / {mib(rss[k]['idle_file_kib'])}"))
        row("RSS under load (peak, c=64)", lambda k: mib(tp[k]["rss_peak_kib"]) if tp else "—")
        row("RSS after the run", lambda k: mib(rss[k]["after_kib"]))
    lr = m.get("long_run", {})
    if lr:
        row("Long run: requests", lambda k: f"{lr[k]['requests']:,}" if k in lr else "—")
        row("Long run: RSS growth", lambda k: (
            f"{lr[k]['growth_after_first_segment_kib'] / 1024:+.1f} MB" if k in lr else "—"))
    reasons = [s["reason"] for s in systems]
    if any(reasons):
        rows.append(["Not measured because"] + [r or "" for r in reasons])
    return header, rows


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


def render_doc(results: dict, table: str, routing_table: str, json_path: str) -> str:
    mc = results["machine"]
    cfg = results["config"]
    noisy = max(mc["load_average_start"][0], results.get("load_average_end", [0])[0]) > 0.5 * (mc["cores"] or 1)
    return f"""# Proxy benchmark

Generated by `scripts/bench` — do not edit by hand; rerun the command instead.

- Command: `{results['command']}` ({results['mode']} mode), {results['started']} to {results['finished']}
- Machine: {mc['cpu']}, {mc['cores']} cores, Linux {mc['kernel']}
- Versions: {mc['swift']}; {mc['python']}; modelmesh-lite {mc['modelmesh_lite']}; {mc['wrk']}; ModelMesh commit {mc['git_commit']}
- Load average at start / end: {', '.join(f'{x:.2f}' for x in mc['load_average_start'])} / {', '.join(f'{x:.2f}' for x in results.get('load_average_end', []))}{' — **other work was running: treat the timings as noisy**' if noisy else ''}
- Raw results: `{json_path}`

{table}

{routing_section(results, routing_table)}

## What the columns are

- **Direct**: the load generator calls the fake upstream (`modelmesh-fake-upstream`, SwiftNIO,
  answers at once with a fixed completion) itself. This is the baseline.
- **ModelMesh (Swift)**: `modelmesh serve` (release build, `--static-swift-stdlib`) with one `openai.llm.v1` provider
  whose `base_url` is the fake upstream, one model (priced), one pool `chat`, observability
  `modelmesh.null.v1`, no limits.
- **ModelMesh, budget limit in memory**: the same with `budget: {{daily_limit: 1000000}}`: every
  request reserves its worst case before the call and settles after it, in the process.
- **ModelMesh, budget limit on PostgreSQL**: the same limit with
  `storage: {{connector: modelmesh.postgres.v1}}` on a local PostgreSQL (Debian's package,
  started by the script on loopback): the reservation is one round trip to the database before
  the upstream call, and the settlement is written after the answer, off the request path.
  The difference to the in-memory column is the cost of a shared budget.
- **ModelMesh Lite (Python)**: `modelmesh-lite` from PyPI in a fresh venv, its stock
  `ProxyServer` started by `scripts/bench_modelmesh_lite.py`. Lite never instantiates providers
  declared in YAML, so the launcher builds its `OpenAIProvider` in code (pointed at the same fake
  upstream) and passes it under `instance`, as Lite's own tests do. Its HTTP server is the stdlib
  single-threaded `HTTPServer` speaking HTTP/1.0 (one connection per request, listen backlog 5),
  and its OpenAI connector reads the whole upstream SSE body before yielding a chunk: both are
  how the package ships, not benchmark artefacts.

Every system gets the same request body, on 127.0.0.1, in the same run. Measurements are
interleaved: each round runs every system once (the order rotates between rounds), and an
"added" figure is the system's value minus the direct value **of the same round**, then the
median over rounds.

## How each figure is measured

- **Latency c=1** (`{cfg['latency_rounds']}` rounds × {cfg['latency_s']} s per system): `wrk -t1 -c1` with
  `scripts/bench_wrk.lua`, whose `done()` hook prints wrk's exact latency percentiles in
  microseconds (wrk times each request from write to complete response on one keep-alive
  connection; Lite closes the connection after each answer, so wrk reconnects and the connect
  time is outside the figure). Ratios (×) are system ÷ direct.
- **Throughput c=64** ({cfg['tput_rounds']} rounds × {cfg['tput_s']} s): `wrk -t2 -c64`, closed loop,
  requests/s over the run; errors are wrk's connect/read/write/timeout (2 s) counts plus
  non-2xx answers.
- **Highest rate with p99 < 5 ms**: wrk2 (constant-rate wrk) is not packaged here, so the rate is
  approximated with paced connections: max(2, `rate × {RATE_PACING_MS} ms / 1000`) connections,
  each waiting a random 0–2d ms (mean d = connections × 1000 / rate, {RATE_PACING_MS} ms from
  100 requests/s up) after every response, so the offered load is spread, not in bursts. Steps:
  {', '.join(f'{r:,}' for r in cfg['rates'])} requests/s offered, {cfg['rate_s']} s each; in each step the direct
  baseline runs first. A step passes if p99 < 5 ms, no errors, and the achieved rate is at least
  70 % of the offered rate (direct) or 90 % of what direct achieved in the same step (proxies:
  wrk's millisecond timers make the pacing itself undershoot, and direct shows by how much); a
  system stops climbing at its first failed step. The figure is the achieved rate of its highest
  passing step ("≥ top step" if it never failed). A failed step is run once more before it
  counts as failed, since other load on the machine only ever makes a step worse. This is a closed-loop approximation: a server
  stall delays the next request of that connection instead of queueing it, so it understates
  tail latency compared with a true open-loop generator; the achieved-rate check catches gross
  stalls.
- **Streaming** (fake upstream: {STREAM_CHUNKS} chunks, the first at once, then one every
  {STREAM_INTERVAL_MS} ms): `scripts/bench_streams.py`, an asyncio client on raw sockets that stamps
  every SSE `data:` event with `perf_counter_ns()` at the read that completed it.
  {cfg['stream_rounds']} rounds × {cfg['stream_count']} sequential streams per system.
  TTFT = first content event − request sent; gap = time between consecutive content events;
  "added" = system − direct. "(buffered)" marks a proxy whose first chunk arrives only with
  the whole stream (median TTFT above 80 % of the stream's length): its gaps are then ~0 and
  mean nothing.
- **Concurrent streams**: K streams opened over a ramp of min(1 s, K/1000 s), K in
  {', '.join(f'{x:,}' for x in cfg['stream_levels'])}; a stream *stalls* if any chunk gap exceeds 2 × {STREAM_INTERVAL_MS} + 50
  = {2 * STREAM_INTERVAL_MS + 50} ms, its first token takes over {STREAM_TTFT_LIMIT_MS:.0f} ms, or it does not end with all
  chunks and `[DONE]`. The figure is the largest K with no stalled stream; a system stops at
  its first level with stalls. If the direct column stalls too, the client or the machine is
  the limit, not the proxy.
- **RSS**: `VmRSS` from `/proc/<pid>/status` of the server process: right after start (one
  readiness request served), the peak sampled every 0.2 s during the c=64 runs, and after all
  measurements. The idle figure is also split into `RssAnon` (private memory: heap, stacks)
  and `RssFile` (pages of the executable and shared libraries mapped in: shared with other
  processes, dropped by the kernel under memory pressure, and larger when the files are
  already in the page cache, since the kernel maps cached neighbours of each page touched).
- **Long run** (`--long` only): wrk -c64 in {cfg.get('long_segment_s', 0)} s segments until at least
  {cfg.get('long_requests', 0):,} requests have gone through (Lite: until its time budget of
  {cfg.get('lite_long_budget_s', 0)} s), VmRSS after each segment; growth = last sample − sample after
  the first segment.

## Interpretation limits

The load generator, the fake upstream and the proxy share the machine's cores, so absolute
numbers measure this machine as much as the proxy; ratios against the direct column of the same
run are the figures to compare across machines.
"""


# ---------------------------------------------------------------------------------------------
# Main


def main() -> int:
    parser = argparse.ArgumentParser(description="Measuring half of scripts/bench.")
    parser.add_argument("--mode", choices=sorted(MODES), default="quick")
    parser.add_argument("--out", required=True, help="directory for <timestamp>.json")
    parser.add_argument("--doc", required=True, help="docs/benchmarks.md to regenerate")
    parser.add_argument("--fake-upstream", required=True, help="modelmesh-fake-upstream binary")
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

    config = MODES[args.mode]
    work_dir = Path(args.work_dir)
    processes = Processes(Path(args.pid_file), work_dir)

    def on_signal(signum, _frame):
        processes.stop_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        machine = machine_description(args.lite_python)
        routing = measure_routing(args.routing_bench, config["routing_iterations"]) if args.routing_bench else None
        direct = System("direct", "Direct (fake upstream)")
        swift = System("modelmesh", "ModelMesh (Swift)")
        lite = System("lite", "ModelMesh Lite (Python)")

        process, log_path = processes.start("fake-upstream", [
            args.fake_upstream, "--host", HOST, "--port", "0",
            "--chunks", str(STREAM_CHUNKS), "--interval-ms", str(STREAM_INTERVAL_MS)])
        match = wait_for_line(process, log_path, r"listening on [\d.]+:(\d+)", 15)
        if not match:
            raise RuntimeError(f"the fake upstream did not start; see {log_path}")
        direct.port, direct.pid, direct.process = int(match.group(1)), process.pid, process
        upstream = f"http://{HOST}:{direct.port}"
        wait_until_forwarding(direct, 10)
        if not direct.available:
            raise RuntimeError(f"the fake upstream does not answer: {direct.reason}")
        log(f"fake upstream on {upstream} (pid {direct.pid})")

        swift_memory = System("modelmesh-limits", "ModelMesh, budget limit in memory")
        swift_pg = System("modelmesh-pg", "ModelMesh, budget limit on PostgreSQL")

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
                "  connector: modelmesh.null.v1\n" + extra)
            system.port = free_port()
            system.process, log_path = processes.start(name, [
                args.modelmesh, "serve", "--config", str(config_path), "--host", HOST, "--port", str(system.port)])
            system.pid = system.process.pid
            wait_until_forwarding(system, 60)
            if not system.available:
                system.reason = f"modelmesh serve did not forward: {system.reason} (log: {log_path})"
            log(f"{system.label}: {'port %d, pid %d' % (system.port, system.pid) if system.available else system.reason}")

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
        if not lite.available:
            lite.reason = f"ModelMesh Lite did not forward: {lite.reason} (log: {log_path})"
        log(f"ModelMesh Lite: {'port %d, pid %d' % (lite.port, lite.pid) if lite.available else lite.reason}")

        everyone = [direct, swift, swift_memory, swift_pg, lite]
        active = [s for s in everyone if s.available]
        idle = {s.key: rss_kib(s.pid) for s in active}
        idle_split = {s.key: (rss_kib(s.pid, "RssAnon"), rss_kib(s.pid, "RssFile")) for s in active}
        for system in active:  # warm-up: connection pools, lazy initialisation, page faults
            wrk(system.url, 4, 1, 2)

        measurements: dict = {}
        if routing:
            measurements["routing"] = routing
        measurements["latency"] = measure_latency(active, config)
        measurements["throughput"] = measure_throughput(active, config)
        measurements["rate_search"] = measure_rate_search(active, config)
        measurements["streaming"] = measure_streaming(active, config)
        time.sleep(2)
        measurements["rss"] = {
            s.key: {"idle_kib": idle[s.key], "idle_anon_kib": idle_split[s.key][0],
                    "idle_file_kib": idle_split[s.key][1], "after_kib": rss_kib(s.pid)}
            for s in active}
        if config["long_requests"]:
            measurements["long_run"] = {}
            for system in (swift, lite):
                if system.available:
                    budget = config["lite_long_budget_s"] if system is lite else 3600
                    measurements["long_run"][system.key] = measure_long_run(
                        system, config["long_requests"], config["long_segment_s"], budget)

        results = {
            "command": args.command_line, "mode": args.mode, "started": started,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine,
            "load_average_end": os.getloadavg(), "config": config,
            "systems": [{"key": s.key, "label": s.label, "available": s.available, "reason": s.reason,
                         "port": s.port} for s in everyone],
            "measurements": measurements,
        }
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path = out_dir / f"{stamp}.json"
        json_path.write_text(json.dumps(results, indent=2) + "\n")
        header, rows = table_rows(results)
        print(render_text_table(header, rows))
        routing_table = ""
        if routing:
            routing_header, routing_rows = routing_table_rows(routing)
            print()
            print(render_text_table(routing_header, routing_rows))
            routing_table = render_markdown_table(routing_header, routing_rows)
        # The doc's own copy of the raw results sits next to it, so both are committed together.
        doc_path = Path(args.doc)
        doc_path.parent.mkdir(parents=True, exist_ok=True)
        doc_json = doc_path.with_suffix(".json")
        doc_json.write_text(json_path.read_text())
        try:
            shown = doc_json.resolve().relative_to(SCRIPTS.parent)
        except ValueError:
            shown = doc_json
        doc_path.write_text(render_doc(results, render_markdown_table(header, rows), routing_table, str(shown)))
        log(f"results: {json_path}")
        log(f"doc: {args.doc} (raw results: {doc_json})")
        return 0
    finally:
        processes.stop_all()


if __name__ == "__main__":
    sys.exit(main())
