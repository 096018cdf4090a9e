#!/usr/bin/env python3
"""scenarios.py: the benchmark scenarios of `make bench`, run by run-bench.sh against its cluster.

Drives tests/bench/loadgen (TCP or WebSocket clients, latency histogram) and tests/bench/pusher
(HTTP pushes to logic), reads the comet's /proc entries and /proc/net/sockstat, prints one table and
writes results.json into BENCH_RUN_DIR (or to the path BENCH_RESULTS). Standard library only. Every
wait is bounded; every process it starts is stopped in a finally block.

Scenarios (BENCH_SCENARIO, comma separated, default all):
  atrest     one connection; 100 pushes to its mid, then 100 to its room, 10/s: median, worst
  idle       comet RSS and kernel TCP memory per authenticated idle connection at BENCH_CONNS
  connect    authenticated connections per second during that ramp
  fanout     BENCH_CONNS in room test://1: a fixed push rate, then rising rates until one fails
  mids       /goim/push/mids to random online mids at a fixed rate, then as fast as possible
  broadcast  /goim/push/all to BENCH_CONNS: time until the last connection has it (3 rounds)
  idle_ws    as idle, over WebSocket (BENCH_COMET_WS_ADDR, path /sub)
  fanout_ws  as fanout's fixed rate only, over WebSocket: msg/s delivered, p50/p99
  gusher_atrest  one gusher.cluster client subscribed to channel "atrest"; 100 channel pushes
             (POST {apiPrefix}push/{app}/atrest/bench, form data) at 10/s: median, worst
  gusher_fanout  BENCH_CONNS gusher clients subscribed to channel "fanout": a fixed push rate, then
             rising rates until one fails, as fanout (also the ramp's subscribed clients/s and
             the comet's RSS per idle subscribed client)

gusher clients (loadgen -protocol gusher) need a JWT: scenarios.py signs one (RS256, openssl)
with the private key BENCH_GUSHER_KEY (run-bench.sh makes a key pair and gives logic its public
half as gusher.publicKey; against an external cluster, set it to the private key whose public
half that cluster's logic trusts, or the gusher scenarios are skipped), for app BENCH_GUSHER_APP
(default bench), channels atrest and fanout, user_id "bench"; loadgen exchanges it for tokens at
comet's {BENCH_GUSHER_CLIENT_PREFIX}auth (default /gusher/) and the pushes go to logic's
{BENCH_GUSHER_API_PREFIX} (default /api/).

The scenarios fall into passes (PASSES): the TCP ones, the WebSocket ones, the gusher ones, each with its own
population of CONNS clients (two at once would not fit the usual open-file limits). A population
that has left frees memory in the comet's heap that the next one would reuse, hiding its cost, so
run-bench.sh runs each pass in its own scenarios.py process and restarts the comet in between.
Modes:
  scenarios.py            runs the requested scenarios (all passes in one process if asked to);
                          with BENCH_RESULTS_MERGE=1 adds its results to the BENCH_RESULTS file;
                          with BENCH_TABLE=0 does not print the table
  scenarios.py --passes   prints the requested scenarios one pass per line (comma separated), or
                          exits 2 for an unknown name; needs no cluster
  scenarios.py --report   prints the table of the BENCH_RESULTS file
"""
import base64
import json
import os
import platform
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

# Read when the scenarios run (the --passes and --report modes need none of them).
LOADGEN = os.environ.get("BENCH_LOADGEN", "")
PUSHER = os.environ.get("BENCH_PUSHER", "")
COMET_ADDR = os.environ.get("BENCH_COMET_ADDR", "")
COMET_WS_ADDR = os.environ.get("BENCH_COMET_WS_ADDR", "")
LOGIC_ADDR = os.environ.get("BENCH_LOGIC_ADDR", "")
COMET_PID = int(os.environ.get("BENCH_COMET_PID") or 0)  # 0: not ours (an external cluster)
LOGIC_PID = int(os.environ.get("BENCH_LOGIC_PID") or 0)
RUN_DIR = os.environ.get("BENCH_RUN_DIR", "")
CONNS = int(os.environ.get("BENCH_CONNS") or 15000)
TCP_SCENARIOS = ["atrest", "idle", "connect", "fanout", "mids", "broadcast"]
WS_SCENARIOS = ["idle_ws", "fanout_ws"]
GUSHER_SCENARIOS = ["gusher_atrest", "gusher_fanout"]
PASSES = [TCP_SCENARIOS, WS_SCENARIOS, GUSHER_SCENARIOS]
SCENARIOS = TCP_SCENARIOS + WS_SCENARIOS + GUSHER_SCENARIOS
FANOUT_RATE = float(os.environ.get("BENCH_FANOUT_RATE", 10))
# BENCH_FANOUT_STEPS: the rising rates after the fixed one (comma separated; empty: none).
FANOUT_STEPS = [int(rate) for rate in
                os.environ.get("BENCH_FANOUT_STEPS", "20,50,100,200,400,800,1600").split(",")
                if rate.strip()]
# A step is sustained when the pusher keeps its rate, >= 99 % is delivered and p99 stays under
# this: with the dev broker the pipeline alone costs ~0.5 s, a growing backlog costs seconds.
FANOUT_MAX_P99_US = 1000 * int(os.environ.get("BENCH_FANOUT_MAX_P99_MS", 2000))
MIDS_RATE = float(os.environ.get("BENCH_MIDS_RATE", 1000))
# The at-rest pushes' rate (one client, 100 pushes each by mid and by room).
ATREST_RATE = float(os.environ.get("BENCH_ATREST_RATE", 10))
# push/mids as fast as possible with this many client connections, each one request in flight.
MIDS_MAX_CONNS = [int(n) for n in os.environ.get("BENCH_MIDS_CONNS", "8,64").split(",")]
PHASE_SECONDS = float(os.environ.get("BENCH_PHASE_SECONDS", 10))
MID_BASE = 1000000
WS_MID_BASE = 2000000
ATREST_MID = 900000000
ROOM_PATH = "/goim/push/room?operation=1000&type=test&room=%s"
MIDS_PATH = "/goim/push/mids?operation=1000&mids={mid}"
ALL_PATH = "/goim/push/all?operation=1000&speed=0"
GUSHER_KEY = os.environ.get("BENCH_GUSHER_KEY", "")
GUSHER_APP = os.environ.get("BENCH_GUSHER_APP", "bench")
GUSHER_CLIENT_PREFIX = os.environ.get("BENCH_GUSHER_CLIENT_PREFIX", "/gusher/")
GUSHER_API_PREFIX = os.environ.get("BENCH_GUSHER_API_PREFIX", "/api/")
GUSHER_ATREST_CHANNEL = "atrest"
GUSHER_FANOUT_CHANNEL = "fanout"
GUSHER_USER_ID = "bench"


def gusher_push_path(channel):
    """gusher's channel push on logic's master API; the pusher sends the form field data."""
    return "%spush/%s/%s/bench" % (GUSHER_API_PREFIX, GUSHER_APP, channel)


def log(message):
    print("bench: " + message, file=sys.stderr, flush=True)


def sockstat_tcp_mem_pages():
    with open("/proc/net/sockstat") as sockstat:
        for line in sockstat:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1])
    return 0


def slab_kib():
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return 0


def comet_rss_kib():
    """The comet's RSS, or 0 when its PID is not known (an external cluster)."""
    if not COMET_PID:
        return 0
    with open("/proc/%d/status" % COMET_PID) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User + system CPU seconds of process pid, or 0.0 when pid is 0 (not known)."""
    if not pid:
        return 0.0
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def comet_cpu_seconds():
    return cpu_seconds(COMET_PID)


def logic_cpu_seconds():
    return cpu_seconds(LOGIC_PID)


def cpu_percent(pid, seconds, wall):
    """CPU percent over wall seconds, or None when pid is not known."""
    return round(100 * seconds / wall, 1) if pid and wall > 0 else None


class Loadgen:
    """One loadgen process (and its workers) with its status file."""

    def __init__(self, name, conns, mid_base, room, procs=None, websocket=False,
                 gusher_channel=None):
        """A goim population (mid_base, room), or with gusher_channel gusher clients subscribed
        to that channel (WebSocket; the JWT of gusher_jwt_file())."""
        self.status_path = os.path.join(RUN_DIR, name + ".status")
        if procs is None:
            procs = max(2, -(-conns // 8000))
        procs = min(procs, max(conns, 1))
        self.conns = conns
        websocket = websocket or gusher_channel is not None
        self.command = [LOADGEN, "-addr", COMET_WS_ADDR if websocket else COMET_ADDR,
                        "-conns", str(conns), "-procs", str(procs),
                        "-sources", "16", "-status", self.status_path]
        if gusher_channel is None:
            self.command += ["-mid-base", str(mid_base), "-room", room, "-heartbeat", "30"]
        else:
            self.command += ["-protocol", "gusher", "-app", GUSHER_APP,
                             "-channel", gusher_channel, "-jwt-file", gusher_jwt_file(),
                             "-gusher-prefix", GUSHER_CLIENT_PREFIX]
        if COMET_PID:
            self.command += ["-comet-pid", str(COMET_PID)]
        if websocket and gusher_channel is None:
            self.command += ["-transport", "websocket"]
        self.log_file = open(os.path.join(RUN_DIR, name + ".log"), "w")
        self.process = subprocess.Popen(self.command, stdout=self.log_file,
                                        stderr=subprocess.STDOUT)

    def status(self):
        try:
            with open(self.status_path) as status_file:
                return json.load(status_file)
        except (OSError, ValueError):
            return None

    def wait_for(self, predicate, seconds, what):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("loadgen exited (%s): see %s" % (what, self.log_file.name))
            status = self.status()
            if status is not None and predicate(status):
                return status
            time.sleep(0.1)
        raise RuntimeError("timed out after %ds waiting for %s: %s" % (seconds, what,
                                                                      self.status()))

    def wait_authed(self, seconds=180):
        return self.wait_for(lambda s: s["authed"] >= self.conns or
                             s["authed"] + s["connect_failed"] + s["closed"] >= self.conns and
                             s["connect_started"] >= self.conns,
                             seconds, "%d authenticated connections" % self.conns)

    def reset(self):
        before = self.status()["epoch"]
        self.process.send_signal(signal.SIGUSR1)
        return self.wait_for(lambda s: s["epoch"] > before and
                             s["epoch_acknowledged"] == s["epoch"], 10, "counter reset")

    def wait_frames(self, expected, seconds, quiet_seconds=1.0):
        """Waits until push_frames reaches expected, or stops growing for quiet_seconds."""
        deadline = time.time() + seconds
        last_count, last_change = -1, time.time()
        status = self.status()
        while time.time() < deadline:
            status = self.status()
            if status["push_frames"] >= expected:
                break
            if status["push_frames"] != last_count:
                last_count, last_change = status["push_frames"], time.time()
            elif time.time() - last_change > quiet_seconds:
                break
            time.sleep(0.1)
        time.sleep(0.3)  # one more publication of every worker's slot
        return self.status()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def push(path, rate=0.0, duration=None, count=None, conns=1, mid_base=MID_BASE, mid_count=1,
         form=None):
    """Runs the pusher; form names the form field that carries the timestamped text (gusher)."""
    command = [PUSHER, "-addr", LOGIC_ADDR, "-path", path, "-rate", str(rate),
               "-conns", str(conns), "-mid-base", str(mid_base), "-mid-count", str(mid_count)]
    if form is not None:
        command += ["-form", form]
    if duration is not None:
        command += ["-duration", str(duration)]
    if count is not None:
        command += ["-count", str(count), "-duration", "600"]
    seconds = (duration or 0) + (count or 0) / max(rate, 1) + 30
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds)
    if result.returncode != 0:
        raise RuntimeError("pusher failed: %s" % result.stderr.strip())
    return json.loads(result.stdout)


def endpoint_exists(path, form=None):
    """A single request: False if logic answers 404 (the endpoint is not there yet)."""
    answer = push(path, count=1, form=form)
    return "404" not in answer["first_error"], answer


def base64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def sign_rs256_jwt(key_path, claims):
    """A compact RS256 JWT of claims, signed by openssl with the private key PEM at key_path."""
    header = base64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = base64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = header + b"." + payload
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path],
                               input=signing_input, capture_output=True, check=True,
                               timeout=30).stdout
    return (signing_input + b"." + base64url(signature)).decode()


_gusher_jwt_signed = []


def gusher_jwt_file():
    """Signs the bench's JWT (no exp: it serves the whole pass) into RUN_DIR/gusher.jwt, once per
    process (the key may be new: run-bench.sh makes one per run)."""
    path = os.path.join(RUN_DIR, "gusher.jwt")
    if not _gusher_jwt_signed:
        claims = {"gusher": {"channels": [GUSHER_ATREST_CHANNEL, GUSHER_FANOUT_CHANNEL],
                             "user_id": GUSHER_USER_ID, "app_key": GUSHER_APP, "remotes": {}}}
        with open(path, "w") as out:
            out.write(sign_rs256_jwt(GUSHER_KEY, claims) + "\n")
        _gusher_jwt_signed.append(path)
    return path


def latency_summary(status):
    latency = status["latency_us"]
    return {key: latency[key] for key in ("count", "p50", "p99", "p999", "max")}


def machine():
    memory_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "memory_kib": memory_kib, "kernel": platform.release(),
            "cpu": model}


# ---------------------------------------------------------------- scenarios


def run_atrest(results):
    client = Loadgen("atrest", 1, ATREST_MID, "test://2", procs=1)
    try:
        client.wait_authed(20)
        out = {}
        for kind, path in (("mid", MIDS_PATH), ("room", ROOM_PATH % 2)):
            if kind == "room":
                if not endpoint_exists(path)[0]:
                    out[kind] = {"pending": "push/room answers 404"}
                    continue
                client.wait_frames(1, 5)  # the probe's frame lands before the reset
            client.reset()
            answer = push(path, rate=ATREST_RATE, count=100, mid_base=ATREST_MID, mid_count=1)
            status = client.wait_frames(answer["ok"], 10)
            out[kind] = {"pushes_ok": answer["ok"], "received": status["push_frames"],
                         "latency_us": latency_summary(status),
                         "http_request_us": answer["request_latency_us"]}
        results["atrest"] = out
    finally:
        client.stop()


def connect_idle_population(name, mid_base, websocket, gusher_channel=None):
    """Connects CONNS clients in room test://1 (or gusher clients subscribed to gusher_channel)
    and lets them settle.

    Returns (population, idle memory measurement, final status, ramp seconds)."""
    rss_before, sock_before, slab_before = comet_rss_kib(), sockstat_tcp_mem_pages(), slab_kib()
    logic_cpu_before, comet_cpu_before = logic_cpu_seconds(), comet_cpu_seconds()
    population = Loadgen(name, CONNS, mid_base, "test://1", websocket=websocket,
                         gusher_channel=gusher_channel)
    try:
        status = population.wait_authed(max(120, CONNS // 50))
        logic_cpu_ramp = logic_cpu_seconds() - logic_cpu_before
        comet_cpu_ramp = comet_cpu_seconds() - comet_cpu_before
        if status["authed"] < CONNS:
            log("only %d of %d connections authenticated" % (status["authed"], CONNS))
        ramp_seconds = (status["last_auth_us"] - status["first_connect_us"]) / 1e6
        time.sleep(3)  # settle: pending replies written, buffers released
        rss_after, sock_after, slab_after = comet_rss_kib(), sockstat_tcp_mem_pages(), slab_kib()
        status = population.status()
    except Exception:
        population.stop()
        raise
    page = os.sysconf("SC_PAGE_SIZE")
    authed = max(status["authed"], 1)
    idle = {
        "connections": status["authed"], "processes": status["processes"],
        "comet_rss_kib_before": rss_before, "comet_rss_kib_after": rss_after,
        "comet_rss_bytes_per_conn": (round((rss_after - rss_before) * 1024 / authed)
                                     if COMET_PID else None),
        "tcp_mem_pages_before": sock_before, "tcp_mem_pages_after": sock_after,
        "kernel_tcp_bytes_per_conn_both_ends": round((sock_after - sock_before) * page /
                                                     authed),
        "kernel_slab_bytes_per_conn_both_ends": round((slab_after - slab_before) * 1024 /
                                                      authed),
        "note": "sockstat mem counts buffer pages only (idle sockets hold none); Slab "
                "(/proc/meminfo) holds the socket structures of both ends, loopback",
        "loadgen_cpu_s": status["loadgen_cpu_s"],
        "logic_cpu_us_per_connect": (round(1e6 * logic_cpu_ramp / authed, 1)
                                     if LOGIC_PID else None),
        "comet_cpu_us_per_connect": (round(1e6 * comet_cpu_ramp / authed, 1)
                                     if COMET_PID else None)}
    return population, idle, status, ramp_seconds


def start_population(results, wanted):
    """Connects CONNS TCP clients in room test://1; measures idle memory and the connect rate."""
    population, idle, status, ramp_seconds = connect_idle_population("population", MID_BASE,
                                                                     websocket=False)
    if "idle" in wanted:
        results["idle"] = idle
    if "connect" in wanted:
        results["connect"] = {
            "connections": status["authed"], "failed": status["connect_failed"],
            "seconds": round(ramp_seconds, 3),
            "per_second": round(status["authed"] / ramp_seconds) if ramp_seconds > 0 else None,
            "logic_cpu_us_per_connect": idle["logic_cpu_us_per_connect"],
            "comet_cpu_us_per_connect": idle["comet_cpu_us_per_connect"]}
    return population


def start_population_ws(results, wanted):
    """Connects CONNS WebSocket clients in room test://1; measures their idle memory."""
    population, idle, status, ramp_seconds = connect_idle_population("population_ws",
                                                                     WS_MID_BASE, websocket=True)
    if status["protocol_errors"] or status["upgraded"] < status["authed"]:
        log("WebSocket population: %d upgraded, %d authenticated, %d protocol errors" % (
            status["upgraded"], status["authed"], status["protocol_errors"]))
    if "idle_ws" in wanted:
        idle["transport"] = "websocket"
        idle["upgraded"] = status["upgraded"]
        idle["protocol_errors"] = status["protocol_errors"]
        idle["connect_per_second"] = (round(status["authed"] / ramp_seconds)
                                      if ramp_seconds > 0 else None)
        results["idle_ws"] = idle
    return population


def drain(population, seconds=60):
    """Waits until no frame has arrived for 2 s (at most seconds): a step that fell behind (a
    backlog in Kafka or in the job) must not be counted in the next measurement."""
    population.wait_frames(1 << 62, seconds, quiet_seconds=2.0)


def fanout_phase(population, rate, seconds, path=ROOM_PATH % 1, form=None):
    """Pushes to path at rate for seconds (4 HTTP connections); what the population got."""
    population.reset()
    cpu_before, wall_before = comet_cpu_seconds(), time.time()
    loadgen_cpu_before = population.status()["loadgen_cpu_s"]
    answer = push(path, rate=rate, duration=seconds, conns=4, form=form)
    expected = answer["ok"] * population.conns
    status = population.wait_frames(expected, 15, quiet_seconds=2.0)
    wall = time.time() - wall_before
    delivered = status["push_frames"]
    comet_cpu = comet_cpu_seconds() - cpu_before
    return {"requested_rate": rate, "pushes_ok": answer["ok"], "push_failed": answer["failed"],
            "push_rate": answer["rate"], "expected": expected, "delivered": delivered,
            "delivered_fraction": round(delivered / expected, 4) if expected else 0,
            "delivered_per_second": round(delivered / answer["elapsed_s"]),
            "comet_cpu_percent": cpu_percent(COMET_PID, comet_cpu, wall),
            "comet_cpu_us_per_message": (round(1e6 * comet_cpu / delivered, 2)
                                         if COMET_PID and delivered else None),
            "loadgen_cpu_percent": round(100 * (status["loadgen_cpu_s"] - loadgen_cpu_before) /
                                         wall, 1),
            "frames_per_read": round(delivered / status["reads"], 2) if status["reads"] else None,
            "latency_us": latency_summary(status), "first_error": answer["first_error"]}


def fanout_fixed_and_steps(name, population, path, form=None):
    """The fixed rate for PHASE_SECONDS, then FANOUT_STEPS until one is not sustained."""
    drain(population)  # the probe's frames, and whatever an earlier scenario left
    fixed = fanout_phase(population, FANOUT_RATE, PHASE_SECONDS, path, form)
    steps, best = [], None
    for rate in FANOUT_STEPS:
        phase = fanout_phase(population, rate, PHASE_SECONDS / 2, path, form)
        steps.append(phase)
        sustained = (phase["push_rate"] >= 0.95 * rate and phase["delivered_fraction"] >= 0.99
                     and phase["latency_us"]["p99"] < FANOUT_MAX_P99_US)
        log("%s %s/s: delivered %.1f%% p99 %d us comet cpu %s%%" % (
            name, rate, 100 * phase["delivered_fraction"], phase["latency_us"]["p99"],
            phase["comet_cpu_percent"]))
        if not sustained:
            drain(population)  # the backlog of the failed step, before the next scenario
            break
        best = phase
    return {"connections": CONNS, "fixed": fixed, "highest_sustained": best, "steps": steps,
            "sustained_means": "pusher >= 95%% of the rate, >= 99%% delivered, "
                               "p99 < %d ms" % (FANOUT_MAX_P99_US // 1000)}


def run_fanout(results, population):
    if not endpoint_exists(ROOM_PATH % 1)[0]:
        results["fanout"] = {"pending": "push/room answers 404"}
        return
    results["fanout"] = fanout_fixed_and_steps("fanout", population, ROOM_PATH % 1)


def run_fanout_ws(results, population):
    if not endpoint_exists(ROOM_PATH % 1)[0]:
        results["fanout_ws"] = {"pending": "push/room answers 404"}
        return
    drain(population)  # the probe's frames, and what the TCP pass left in Kafka or the job
    fixed = fanout_phase(population, FANOUT_RATE, PHASE_SECONDS)
    log("fanout_ws %s/s: delivered %.1f%% p99 %d us comet cpu %s%%" % (
        FANOUT_RATE, 100 * fixed["delivered_fraction"], fixed["latency_us"]["p99"],
        fixed["comet_cpu_percent"]))
    results["fanout_ws"] = {"connections": CONNS, "transport": "websocket", "fixed": fixed,
                            "protocol_errors": population.status()["protocol_errors"]}


def mids_phase(population, rate, conns):
    """push/mids to random online mids for PHASE_SECONDS at rate (0: as fast as possible)."""
    drain(population)
    population.reset()
    comet_before, logic_before = comet_cpu_seconds(), logic_cpu_seconds()
    wall_before = time.time()
    answer = push(MIDS_PATH, rate=rate, duration=PHASE_SECONDS, conns=conns,
                  mid_base=MID_BASE, mid_count=CONNS)
    logic_cpu = logic_cpu_seconds() - logic_before
    status = population.wait_frames(answer["ok"], 10, quiet_seconds=2.0)
    wall = time.time() - wall_before
    requests = answer["ok"] + answer["failed"]
    return {"requested_rate": rate or "max", "http_conns": conns,
            "requests_ok": answer["ok"], "failed": answer["failed"],
            "logic_requests_per_second": answer["rate"],
            "http_request_us": answer["request_latency_us"],
            "logic_cpu_us_per_request": (round(1e6 * logic_cpu / requests, 1)
                                         if LOGIC_PID and requests else None),
            "received": status["push_frames"], "latency_us": latency_summary(status),
            "comet_cpu_percent": cpu_percent(COMET_PID, comet_cpu_seconds() - comet_before, wall),
            "first_error": answer["first_error"]}


def run_mids(results, population):
    # the fixed rate needs enough connections in flight: each one carries at most 1/latency req/s
    out = {"fixed": mids_phase(population, MIDS_RATE, max(4, int(MIDS_RATE // 50)))}
    for conns in MIDS_MAX_CONNS:
        out["max_%d" % conns] = mids_phase(population, 0, conns)
        log("push/mids max with %d connections: %.0f req/s" % (
            conns, out["max_%d" % conns]["logic_requests_per_second"]))
    results["mids"] = out


def run_broadcast(results, population):
    if not endpoint_exists(ALL_PATH)[0]:
        results["broadcast"] = {"pending": "push/all answers 404"}
        return
    drain(population)
    rounds = []
    for _ in range(3):
        population.reset()
        answer = push(ALL_PATH, count=1)
        status = population.wait_frames(CONNS, 30, quiet_seconds=3.0)
        rounds.append({"received": status["push_frames"],
                       "last_connection_us": status["latency_us"]["max"],
                       "latency_us": latency_summary(status), "ok": answer["ok"]})
        time.sleep(1)
    lasts = sorted(r["last_connection_us"] for r in rounds)
    results["broadcast"] = {"connections": CONNS, "rounds": rounds,
                            "median_last_connection_us": lasts[len(lasts) // 2]}


def gusher_unavailable():
    """Why the gusher scenarios cannot run here, or None."""
    if not COMET_WS_ADDR:
        return "skipped: no BENCH_COMET_WS_ADDR"
    url = "http://%s%sping" % (COMET_WS_ADDR, GUSHER_CLIENT_PREFIX)
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = answer.read(64)
    except urllib.error.HTTPError as error:
        return "pending: comet answers %d to GET %sping" % (error.code, GUSHER_CLIENT_PREFIX)
    except OSError as error:
        return "pending: GET %s: %s" % (url, error)
    if body != b"pong":
        return "pending: comet answers %r to GET %sping" % (body, GUSHER_CLIENT_PREFIX)
    if not GUSHER_KEY:
        return ("skipped: no BENCH_GUSHER_KEY (the private key whose public half is logic's "
                "gusher.publicKey; run-bench.sh makes one when its logic has that setting)")
    return None


def run_gusher_atrest(results):
    path = gusher_push_path(GUSHER_ATREST_CHANNEL)
    client = Loadgen("gusher_atrest", 1, 0, "", procs=1, gusher_channel=GUSHER_ATREST_CHANNEL)
    try:
        client.wait_authed(20)
        exists, probe = endpoint_exists(path, form="data")
        if not exists:
            results["gusher_atrest"] = {"pending": "%s answers 404" % path}
            return
        if probe["ok"] != 1:
            raise RuntimeError("gusher push refused: %s" % probe["first_error"])
        client.wait_frames(1, 5)  # the probe's message lands before the reset
        client.reset()
        answer = push(path, rate=10, count=100, form="data")
        status = client.wait_frames(answer["ok"], 10)
        results["gusher_atrest"] = {"channel": GUSHER_ATREST_CHANNEL, "pushes_ok": answer["ok"],
                                    "received": status["push_frames"],
                                    "untimed": status["untimed_pushes"],
                                    "latency_us": latency_summary(status),
                                    "http_request_us": answer["request_latency_us"]}
    finally:
        client.stop()


def run_gusher_fanout(results, population, population_figures):
    path = gusher_push_path(GUSHER_FANOUT_CHANNEL)
    exists, probe = endpoint_exists(path, form="data")
    if not exists:
        results["gusher_fanout"] = {"pending": "%s answers 404" % path}
        return
    if probe["ok"] != 1:
        raise RuntimeError("gusher push refused: %s" % probe["first_error"])
    out = fanout_fixed_and_steps("gusher_fanout", population, path, form="data")
    out["channel"] = GUSHER_FANOUT_CHANNEL
    out["population"] = population_figures
    out["protocol_errors"] = population.status()["protocol_errors"]
    results["gusher_fanout"] = out


def run_gusher_pass(results, report, wanted):
    unavailable = gusher_unavailable()
    if unavailable is not None:
        log("gusher scenarios " + unavailable)
        for name in GUSHER_SCENARIOS:
            if name in wanted:
                results[name] = {"skipped": unavailable}
        return
    population = None
    try:
        if "gusher_atrest" in wanted:
            log("gusher at rest: 100 channel pushes to one subscriber")
            run_gusher_atrest(results)
        if "gusher_fanout" in wanted:
            log("connecting %d gusher clients to channel %s" % (CONNS, GUSHER_FANOUT_CHANNEL))
            population, idle, status, ramp_seconds = connect_idle_population(
                "population_gusher", 0, websocket=True, gusher_channel=GUSHER_FANOUT_CHANNEL)
            figures = {"subscribed": status["authed"], "upgraded": status["upgraded"],
                       "connect_failed": status["connect_failed"],
                       "subscribed_per_second": (round(status["authed"] / ramp_seconds)
                                                 if ramp_seconds > 0 else None),
                       "comet_rss_bytes_per_conn": idle["comet_rss_bytes_per_conn"],
                       "logic_cpu_us_per_connect": idle["logic_cpu_us_per_connect"]}
            log("gusher channel fan-out")
            run_gusher_fanout(results, population, figures)
            final = population.status()
            report["population_gusher_final"] = {key: final[key] for key in (
                "upgraded", "authed", "closed", "connect_failed", "protocol_errors",
                "text_messages")}
    finally:
        if population is not None:
            population.stop()


# ---------------------------------------------------------------- report


def us(value):
    return "-" if value is None else ("%.2f ms" % (value / 1000.0) if value >= 1000 else
                                      "%d us" % value)


def lat(latency):
    return "p50 %s  p99 %s  p99.9 %s  max %s" % (us(latency["p50"]), us(latency["p99"]),
                                                 us(latency["p999"]), us(latency["max"]))


def cpu_per_message(phase):
    value = phase.get("comet_cpu_us_per_message")
    return "" if value is None else " (%.2f us/msg)" % value


def fanout_rows(rows, number, title, r):
    """The fixed and highest-sustained rows of a fanout_fixed_and_steps result r."""
    for label, phase in (("fixed", r["fixed"]), ("highest", r["highest_sustained"])):
        if phase is None:
            rows.append(("%s %s %s" % (number, title, label), "no step sustained"))
            continue
        rows.append(("%s %s %s %g/s" % (number, title, label, phase["requested_rate"]),
                     "%d msg/s delivered (%.1f%%), comet CPU %s%%%s, loadgen CPU %s%% "
                     "(%s frames per read)" % (
                         phase["delivered_per_second"], 100 * phase["delivered_fraction"],
                         phase["comet_cpu_percent"], cpu_per_message(phase),
                         phase["loadgen_cpu_percent"], phase.get("frames_per_read"))))
        rows.append(("", lat(phase["latency_us"])))


def gusher_rows(rows, results):
    if "gusher_atrest" in results:
        r = results["gusher_atrest"]
        if "pending" in r or "skipped" in r:
            rows.append(("7 gusher at rest", r.get("pending") or r.get("skipped")))
        else:
            rows.append(("7 gusher at rest, channel", "median %s  worst %s  (%d/%d received)" % (
                us(r["latency_us"]["p50"]), us(r["latency_us"]["max"]), r["received"],
                r["pushes_ok"])))
    if "gusher_fanout" in results:
        r = results["gusher_fanout"]
        if "pending" in r or "skipped" in r:
            rows.append(("8 gusher fan-out", r.get("pending") or r.get("skipped")))
            return
        p = r["population"]
        rows.append(("8 gusher subscribers", "%d subscribed (%s/s), comet RSS %s B/conn%s" % (
            p["subscribed"], p["subscribed_per_second"],
            "-" if p["comet_rss_bytes_per_conn"] is None else p["comet_rss_bytes_per_conn"],
            "" if p["logic_cpu_us_per_connect"] is None else
            ", logic CPU %.1f us/connect" % p["logic_cpu_us_per_connect"])))
        fanout_rows(rows, "8", "gusher fan-out", r)


def table(results):
    rows = []
    if "atrest" in results:
        for kind in ("mid", "room"):
            r = results["atrest"].get(kind, {})
            if "pending" in r:
                rows.append(("6 at rest, " + kind, r["pending"]))
            elif r:
                rows.append(("6 at rest, " + kind, "median %s  worst %s  (%d/%d received)" % (
                    us(r["latency_us"]["p50"]), us(r["latency_us"]["max"]), r["received"],
                    r["pushes_ok"])))
    if "idle" in results:
        r = results["idle"]
        rows.append(("1 idle memory", "%d conns: comet RSS %s B/conn; kernel TCP buffers %d "
                     "B/conn, slab %d B/conn (both ends, loopback)" % (
                         r["connections"], "-" if r["comet_rss_bytes_per_conn"] is None else
                         r["comet_rss_bytes_per_conn"],
                         r["kernel_tcp_bytes_per_conn_both_ends"],
                         r["kernel_slab_bytes_per_conn_both_ends"])))
    if "idle_ws" in results:
        r = results["idle_ws"]
        rows.append(("1w idle memory, WebSocket", "%d conns: comet RSS %s B/conn; kernel TCP "
                     "buffers %d B/conn, slab %d B/conn (both ends, loopback)" % (
                         r["connections"], "-" if r["comet_rss_bytes_per_conn"] is None else
                         r["comet_rss_bytes_per_conn"],
                         r["kernel_tcp_bytes_per_conn_both_ends"],
                         r["kernel_slab_bytes_per_conn_both_ends"])))
    if "connect" in results:
        r = results["connect"]
        cpu, comet_cpu = r.get("logic_cpu_us_per_connect"), r.get("comet_cpu_us_per_connect")
        rows.append(("2 connect rate", "%s auth conns/s (%d in %.2f s, %d failed)%s%s" % (
            r["per_second"], r["connections"], r["seconds"], r["failed"],
            "" if cpu is None else ", logic CPU %.1f us/connect" % cpu,
            "" if comet_cpu is None else ", comet CPU %.1f us/connect" % comet_cpu)))
    if "fanout" in results:
        r = results["fanout"]
        if "pending" in r:
            rows.append(("3 room fan-out", r["pending"]))
        else:
            fanout_rows(rows, "3", "fan-out", r)
    if "fanout_ws" in results:
        r = results["fanout_ws"]
        if "pending" in r:
            rows.append(("3w fan-out, WebSocket", r["pending"]))
        else:
            phase = r["fixed"]
            rows.append(("3w fan-out WebSocket fixed %g/s" % phase["requested_rate"],
                         "%d msg/s delivered (%.1f%%), comet CPU %s%%%s, loadgen CPU %s%%" % (
                             phase["delivered_per_second"], 100 * phase["delivered_fraction"],
                             phase["comet_cpu_percent"], cpu_per_message(phase),
                             phase["loadgen_cpu_percent"])))
            rows.append(("", lat(phase["latency_us"])))
    if "mids" in results:
        for name, r in results["mids"].items():
            label = ("4 push/mids %s/s" % r["requested_rate"] if name == "fixed" else
                     "4 push/mids max, %d conns" % r["http_conns"])
            cpu = r.get("logic_cpu_us_per_request")
            rows.append((label, "%.0f req/s ok (%d ok, %d failed), %d frames received%s" % (
                r["logic_requests_per_second"], r["requests_ok"], r["failed"], r["received"],
                "" if cpu is None else ", logic CPU %.1f us/req" % cpu)))
            http = r["http_request_us"]
            rows.append(("", "HTTP answer p50 %s  p99 %s" % (us(http.get("p50")),
                                                              us(http.get("p99")))))
            rows.append(("", "to the client: " + lat(r["latency_us"])))
    if "broadcast" in results:
        r = results["broadcast"]
        if "pending" in r:
            rows.append(("5 broadcast", r["pending"]))
        else:
            rows.append(("5 broadcast", "last of %d conns after %s (median of 3; rounds: %s)" % (
                r["connections"], us(r["median_last_connection_us"]),
                ", ".join(us(x["last_connection_us"]) + " %d rcvd" % x["received"]
                          for x in r["rounds"]))))
    gusher_rows(rows, results)
    width = max(len(row[0]) for row in rows) if rows else 10
    lines = ["%-*s  %s" % (width, name, value) for name, value in rows]
    return "\n".join(lines)


def requested_scenarios():
    """The scenarios BENCH_SCENARIO asks for, and those of them that do not exist."""
    wanted = os.environ.get("BENCH_SCENARIO") or "all"
    wanted = SCENARIOS if wanted == "all" else wanted.split(",")
    return wanted, [name for name in wanted if name not in SCENARIOS]


def run_tcp_pass(results, report, wanted):
    population = None
    try:
        if "atrest" in wanted:
            log("at rest: 100 single pushes by mid and by room, %g/s" % ATREST_RATE)
            run_atrest(results)
        if any(name in wanted for name in ("idle", "connect", "fanout", "mids", "broadcast")):
            log("connecting %d clients" % CONNS)
            population = start_population(results, wanted)
        if "fanout" in wanted:
            log("room fan-out")
            run_fanout(results, population)
        if "mids" in wanted:
            log("push/mids")
            run_mids(results, population)
        if "broadcast" in wanted:
            log("broadcast")
            run_broadcast(results, population)
        if population is not None:
            final = population.status()
            report["population_final"] = {key: final[key] for key in (
                "authed", "closed", "connect_failed", "protocol_errors", "heartbeats_sent")}
    finally:
        if population is not None:
            population.stop()


def run_ws_pass(results, report, wanted):
    population = None
    try:
        log("connecting %d WebSocket clients" % CONNS)
        population = start_population_ws(results, wanted)
        if "fanout_ws" in wanted:
            log("room fan-out over WebSocket")
            run_fanout_ws(results, population)
        final = population.status()
        report["population_ws_final"] = {key: final[key] for key in (
            "upgraded", "authed", "closed", "connect_failed", "protocol_errors",
            "heartbeats_sent")}
    finally:
        if population is not None:
            population.stop()


def merge_into_previous(path, report):
    """With BENCH_RESULTS_MERGE=1, adds this pass's report to the one in path (if readable)."""
    if os.environ.get("BENCH_RESULTS_MERGE") != "1":
        return report
    try:
        with open(path) as previous_file:
            previous = json.load(previous_file)
    except (OSError, ValueError):
        return report
    previous["results"].update(report["results"])
    previous["scenarios_requested"] = (previous.get("scenarios_requested", []) +
                                       report["scenarios_requested"])
    previous["passes"] = previous.get("passes", []) + report["passes"]
    for key in ("population_final", "population_ws_final", "population_gusher_final"):
        if key in report:
            previous[key] = report[key]
    failures = [f for f in (previous.get("failure"), report["failure"]) if f]
    previous["failure"] = "; ".join(failures) if failures else None
    previous["finished"] = report["finished"]
    return previous


def print_report(report, path):
    m = report["machine"]
    print("\ngoim-c bench: %d cores, %.1f GiB, kernel %s, Kafka: %s, CONNS=%d" % (
        m["cores"], m["memory_kib"] / 1048576, m["kernel"], report["kafka"], report["conns"]))
    print(table(report["results"]))
    print("written: %s" % path)


def main(arguments):
    wanted, unknown = requested_scenarios()
    if unknown:
        log("unknown scenario(s) %s; known: %s" % (unknown, ", ".join(SCENARIOS)))
        return 2
    if "--passes" in arguments:
        for names in PASSES:
            chosen = [name for name in names if name in wanted]
            if chosen:
                print(",".join(chosen))
        return 0
    path = os.environ.get("BENCH_RESULTS") or os.path.join(RUN_DIR, "results.json")
    if "--report" in arguments:
        try:
            with open(path) as report_file:
                report = json.load(report_file)
        except (OSError, ValueError) as error:
            log("no results to report: %s" % error)
            return 1
        print_report(report, path)
        return 0
    results = {}
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report = {"machine": machine(), "conns": CONNS, "kafka": os.environ.get("BENCH_KAFKA"),
              "job_flags": os.environ.get("BENCH_JOB_FLAGS_USED"),
              "scenarios_requested": wanted, "results": results, "started": started}
    failure = None
    try:
        if any(name in wanted for name in TCP_SCENARIOS):
            run_tcp_pass(results, report, wanted)
        if any(name in wanted for name in WS_SCENARIOS):
            run_ws_pass(results, report, wanted)
        if any(name in wanted for name in GUSHER_SCENARIOS):
            run_gusher_pass(results, report, wanted)
    except Exception as error:  # report what was measured, then fail
        failure = "%s: %s" % (type(error).__name__, error)
        log("FAILED: " + failure)
    report["failure"] = failure
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report["passes"] = [{"scenarios": wanted, "comet_pid": COMET_PID, "started": started,
                         "finished": report["finished"], "failure": failure}]
    report = merge_into_previous(path, report)
    with open(path, "w") as out:
        json.dump(report, out, indent=2)
    if os.environ.get("BENCH_TABLE") != "0":
        print_report(report, path)
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
