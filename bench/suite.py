#!/usr/bin/python3
"""The side-by-side scheduler suite: shared/WORKLOADS.md on weft and every installed peer.

    bench/suite.py                      # everything: build (opt), run, table, chart
    bench/suite.py --quick              # every workload once, small scale (CI: --peers weft,onetbb)
    bench/suite.py --peers weft,go --workloads spawn_many,skynet --reps 7

Each measurement is its own process. Runtimes are interleaved: repetition r runs workload w on
every runtime (and thread count) before moving on, so machine drift hits all of them alike.
Every run records the CPU time other processes used while it ran (/proc/stat busy time minus
the run's own rusage); a run above --max-others (cores' worth) is repeated, up to --retries
times, and the least disturbed attempt is kept. The report says how often that happened.

Writes <out>/<date>.json (every run), <date>.md (tables, each peer's ratio to weft) and
<date>.png (one panel per workload; thread scaling where the workload scales).
Peers come from Debian's packages: bench/setup_peers.sh. Uses the system python3 (uvloop,
matplotlib are Debian packages).
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                     "weft-bench")
SYS_PY = "/usr/bin/python3"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# id, name, metric shown, True if higher is better, scales with threads, extra metrics.
WORKLOADS = [
    ("W1", "spawn_many", "tasks_per_s", True, True),
    ("W1r", "spawn_many_remote", "tasks_per_s", True, True),
    ("W2", "yield_many", "yields_per_s", True, True),
    ("W3", "ping_pong_xthread", "ns_per_rtt", False, False),
    ("W3l", "ping_pong_local", "ns_per_rtt", False, False),
    ("W4", "chained_spawn", "ns_per_hop", False, True),
    ("W5", "fib_fork_join", "seconds", False, True),
    ("W6", "timers", "overhead_ms", False, True),
    ("W6c", "timer_cancel", "ops_per_s", True, False),
    ("W7", "blocking_pool", "calls_per_s", True, False),
    ("W7s", "blocking_sleep", "seconds", False, False),
    ("W8", "http_plaintext", "requests_per_s", True, False),
    ("W9", "idle_tasks_memory", "bytes_per_task", False, False),
    ("W10", "skynet", "seconds", False, True),
]
WL = {w[1]: w for w in WORKLOADS}
DEFAULT_THREADS = 2  # WORKLOADS.md: 2 worker threads unless it says otherwise

# What a peer cannot express: printed in the table instead of a number.
NA = {
    "onetbb": {
        "spawn_many_remote": "n/a: not written for oneTBB (task_arena::enqueue would be its form)",
        "yield_many": "n/a: oneTBB tasks cannot suspend",
        "ping_pong_xthread": "n/a: oneTBB tasks cannot wait on a channel",
        "ping_pong_local": "n/a: oneTBB tasks cannot wait on a channel",
        "timers": "n/a: oneTBB has no timers",
        "timer_cancel": "n/a: oneTBB has no timers",
        "blocking_pool": "n/a: oneTBB has no blocking pool",
        "blocking_sleep": "n/a: oneTBB has no blocking pool",
        "http_plaintext": "n/a: oneTBB has no I/O",
        "idle_tasks_memory": "n/a: oneTBB tasks cannot sleep",
    },
    "asyncio": {"ping_pong_xthread": "n/a: asyncio has one loop"},
    "asio": {"ping_pong_xthread":
             "n/a: a shared io_context cannot pin tasks to threads (asio_ctx can)"},
    "uvloop": {"ping_pong_xthread": "n/a: uvloop has one loop"},
    "go": {
        "spawn_many_remote": "n/a: Go has no thread outside the runtime (every goroutine is in it)",
        "blocking_pool": "n/a: Go has no blocking pool (a goroutine blocks its own thread)",
        "blocking_sleep": "n/a: Go has no blocking pool (a goroutine blocks its own thread)",
    },
}
SINGLE_LOOP = {"asyncio", "uvloop"}  # run at 1 thread whatever the thread count asked


# ----------------------------------------------------------------------------------------
# Runtimes: how to build, whether installed, the command of one run
# ----------------------------------------------------------------------------------------

def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


class Runtime:
    name = ""
    builds = True

    def available(self):
        """None if it can run, else why not."""
        return None

    def build(self):
        pass

    def argv(self, workload, scale, threads):
        raise NotImplementedError

    def env(self, threads):
        return {}

    def server_argv(self, port, threads):
        """The W8 server's command, or None."""
        return None


class Weft(Runtime):
    name = "weft"
    bazel_flags = ["--config=opt"]

    @property
    def bin(self):  # one copy per set of Bazel flags: CI's fastbuild one never replaces opt's
        tag = "".join(c if c.isalnum() else "_" for c in "".join(self.bazel_flags))
        return os.path.join(BUILD, "workloads-" + (tag or "fastbuild"))

    def build(self):
        sh(["bazel", "build", *self.bazel_flags, "//bench:workloads"], cwd=ROOT,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = subprocess.run(["bazel", "info", *self.bazel_flags, "bazel-bin"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout.strip()
        os.makedirs(BUILD, exist_ok=True)
        shutil.copy(os.path.join(out, "bench", "workloads"), self.bin + ".tmp")
        os.replace(self.bin + ".tmp", self.bin)

    http_cmd = None  # W8: --weft-http-server, split; {port} and {threads} substituted

    def argv(self, workload, scale, threads):
        return [self.bin, self.name, workload, str(scale), str(threads)]

    def server_argv(self, port, threads):
        if self.http_cmd is None:
            return None
        return [a.replace("{port}", str(port)).replace("{threads}", str(threads))
                for a in self.http_cmd]


class OneTBB(Weft):
    name = "onetbb"

    def server_argv(self, port, threads):
        return None

    def build(self):
        pass  # the same binary as weft


class PyAsync(Runtime):
    script = os.path.join(ROOT, "bench", "peers", "asyncio", "workloads.py")

    def __init__(self, name):
        self.name = name

    def available(self):
        if not os.path.exists(SYS_PY):
            return "not installed: no /usr/bin/python3"
        if self.name == "uvloop":
            r = subprocess.run([SYS_PY, "-c", "import uvloop"], capture_output=True)
            if r.returncode:
                return "not installed: python3-uvloop (bench/setup_peers.sh)"
        return None

    def argv(self, workload, scale, threads):
        return [SYS_PY, self.script, self.name, workload, str(scale)]

    def server_argv(self, port, threads):
        return [SYS_PY, self.script, self.name, "http_server", str(port)]


class Go(Runtime):
    name = "go"
    bin = os.path.join(BUILD, "go_workloads")
    src = os.path.join(ROOT, "bench", "peers", "go")

    def available(self):
        return None if shutil.which("go") else "not installed: golang-go (bench/setup_peers.sh)"

    def build(self):
        env = dict(os.environ, GOCACHE=os.path.join(BUILD, "gocache"), GOFLAGS="-mod=mod",
                   GOPROXY="off", GO111MODULE="on")
        sh(["go", "build", "-o", self.bin, "."], cwd=self.src, env=env)

    def argv(self, workload, scale, threads):
        return [self.bin, workload, str(scale), str(threads)]

    def env(self, threads):
        return {"GOMAXPROCS": str(threads)}

    def server_argv(self, port, threads):
        return [self.bin, "http_server", str(port), str(threads)]


class Asio(Runtime):
    bin = os.path.join(BUILD, "asio_workloads")
    src = os.path.join(ROOT, "bench", "peers", "asio", "workloads.cc")

    def __init__(self, name, mode):
        self.name, self.mode = name, mode

    def available(self):
        if not os.path.exists("/usr/include/boost/asio.hpp"):
            return "not installed: libboost1.74-dev (bench/setup_peers.sh)"
        return None

    def build(self):
        if self.mode != "pool":
            return  # one binary for both modes
        os.makedirs(BUILD, exist_ok=True)
        sh(["g++", "-O2", "-std=c++20", "-DNDEBUG", "-o", self.bin, self.src, "-pthread"])

    def argv(self, workload, scale, threads):
        return [self.bin, self.mode, workload, str(scale), str(threads)]

    def server_argv(self, port, threads):
        return [self.bin, self.mode, "http_server", str(port), str(threads)]


class Tokio(Runtime):
    name = "tokio"
    src = os.path.join(ROOT, "bench", "peers", "tokio")
    registry = "/usr/share/cargo/registry"
    bin = os.path.join(BUILD, "tokio", "release", "tokio_workloads")

    def available(self):
        if not os.path.exists("/usr/bin/cargo"):
            return "not installed: cargo (bench/setup_peers.sh)"
        if not any(d.startswith("tokio-1.") for d in os.listdir(self.registry)
                   if os.path.isdir(self.registry)):
            return "not installed: librust-tokio-dev (bench/setup_peers.sh)"
        return None

    def build(self):
        # Offline, against Debian's crates: a private CARGO_HOME whose config replaces
        # crates.io with the directory source /usr/share/cargo/registry.
        home = os.path.join(BUILD, "cargo_home")
        os.makedirs(home, exist_ok=True)
        with open(os.path.join(home, "config.toml"), "w") as f:
            f.write('[source.crates-io]\nreplace-with = "debian"\n'
                    f'[source.debian]\ndirectory = "{self.registry}"\n'
                    '[net]\noffline = true\n')
        env = dict(os.environ, CARGO_HOME=home, CARGO_TARGET_DIR=os.path.join(BUILD, "tokio"),
                   RUSTC="/usr/bin/rustc")  # Debian's, not a rustup one on PATH
        sh(["/usr/bin/cargo", "build", "--release", "--offline", "-q"], cwd=self.src, env=env)

    def argv(self, workload, scale, threads):
        return [self.bin, workload, str(scale), str(threads)]

    def server_argv(self, port, threads):
        return [self.bin, "http_server", str(port), str(threads)]


def all_runtimes():
    return [Weft(), OneTBB(), PyAsync("asyncio"), PyAsync("uvloop"), Go(),
            Asio("asio", "pool"), Asio("asio_ctx", "ctx"), Tokio()]


# ----------------------------------------------------------------------------------------
# Measuring one run, with the fairness check
# ----------------------------------------------------------------------------------------

def busy_cpu_s():
    """CPU seconds all processes have used (every field of /proc/stat's cpu line but idle and
    iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # utime, stime


def parse_result(text):
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "RESULT":
            return {k: float(v) for k, v in (kv.split("=", 1) for kv in parts[3:])}
    return None


def run_once(argv, env, timeout):
    """Runs one measurement process. Returns (stdout, stderr, exit code, wall seconds, CPU
    seconds all processes used meanwhile)."""
    busy0, t0 = busy_cpu_s(), time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, **env))
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += f"\ntimed out after {timeout}s"
    wall = time.monotonic() - t0
    busy = busy_cpu_s() - busy0
    return out, err, p.returncode, wall, busy


class Children:
    """RUSAGE_CHILDREN deltas: the CPU time of the children reaped since the last call."""

    def __init__(self):
        self.last = self._now()

    @staticmethod
    def _now():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def delta(self):
        now = self._now()
        d, self.last = now - self.last, now
        return d


CHILDREN = None


def measure(rt, workload, scale, threads, args):
    """One kept run of `workload` (repeated while disturbed). Returns a record dict."""
    attempts = []
    for attempt in range(args.retries + 1):
        CHILDREN.delta()
        out, err, rc, wall, busy = run_once(rt.argv(workload, scale, threads), rt.env(threads),
                                            args.timeout)
        own = CHILDREN.delta()
        others = max(0.0, busy - own)
        rec = {"metrics": parse_result(out) if rc == 0 else None, "wall_s": round(wall, 4),
               "own_cpu_s": round(own, 4), "others_cpu_s": round(others, 4),
               "others_cores": round(others / wall, 3) if wall > 0 else 0.0}
        if rec["metrics"] is None:
            rec["error"] = (err.strip().splitlines() or [f"exit code {rc}"])[-1][:200]
            if rc == 0:
                rec["error"] = "no RESULT line: " + rec["error"]
            return rec | {"attempts": attempt + 1, "disturbed": False}
        attempts.append(rec)
        if rec["others_cores"] <= args.max_others or wall > args.retry_max_wall:
            break
    best = min(attempts, key=lambda r: r["others_cores"])
    return best | {"attempts": len(attempts), "disturbed": best["others_cores"] > args.max_others}


def wait_port(port, proc, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_http(argv, env, args):
    """W8: starts the server, drives it with wrk, returns a record like measure()'s."""
    attempts = []
    for attempt in range(args.retries + 1):
        port = free_port()
        cmd = [a.replace("{port}", str(port)) for a in argv]
        srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, **env))
        try:
            if not wait_port(port, srv):
                err = srv.stderr.read() if srv.poll() is not None else "did not listen"
                return {"metrics": None, "error": (err.strip().splitlines() or ["died"])[-1],
                        "attempts": attempt + 1, "disturbed": False}
            u0, s0 = proc_cpu_s(srv.pid)
            CHILDREN.delta()
            busy0, t0 = busy_cpu_s(), time.monotonic()
            wrk = subprocess.run(["wrk", f"-t{args.wrk_threads}", f"-c{args.wrk_conns}",
                                  f"-d{args.wrk_duration}s", f"http://127.0.0.1:{port}/"],
                                 capture_output=True, text=True, timeout=args.wrk_duration + 30)
            wall, busy = time.monotonic() - t0, busy_cpu_s() - busy0
            u1, s1 = proc_cpu_s(srv.pid)
            wrk_cpu = CHILDREN.delta()
        finally:
            srv.send_signal(signal.SIGTERM)
            try:
                srv.wait(timeout=5)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()
            CHILDREN.delta()  # the server's own rusage, already counted through /proc
        reqs = rps = None
        for line in wrk.stdout.splitlines():
            parts = line.split()
            if "requests in" in line:
                reqs = int(parts[0])
            if line.startswith("Requests/sec:"):
                rps = float(parts[1])
        errors = [l.strip() for l in wrk.stdout.splitlines() if "Non-2xx" in l or
                  "Socket errors" in l]
        if not reqs or rps is None or errors:
            return {"metrics": None, "error": "wrk: " + (" ".join(errors) or
                                                         wrk.stderr.strip()[-200:] or "no result"),
                    "attempts": attempt + 1, "disturbed": False}
        own = (u1 - u0) + (s1 - s0) + wrk_cpu
        others = max(0.0, busy - own)
        rec = {"metrics": {"requests_per_s": rps,
                           "server_user_us_per_req": (u1 - u0) * 1e6 / reqs,
                           "server_sys_us_per_req": (s1 - s0) * 1e6 / reqs},
               "wall_s": round(wall, 3), "own_cpu_s": round(own, 3),
               "others_cpu_s": round(others, 3), "others_cores": round(others / wall, 3)}
        attempts.append(rec)
        if rec["others_cores"] <= args.max_others or wall > args.retry_max_wall:
            break
    best = min(attempts, key=lambda r: r["others_cores"])
    return best | {"attempts": len(attempts), "disturbed": best["others_cores"] > args.max_others}


# ----------------------------------------------------------------------------------------
# The plan, the run, the summary
# ----------------------------------------------------------------------------------------

def thread_counts(args):
    if args.threads:
        return [int(t) for t in args.threads.split(",")]
    n = os.cpu_count() or 2
    ts = [1, 2]
    t = 4
    while t <= n:
        ts.append(t)
        t *= 2
    if n > 2 and n not in ts:
        ts.append(n)
    return ts


def plan(runtimes, workloads, args):
    """[(workload, runtime, threads)] for one repetition, runtimes interleaved per workload."""
    steps = []
    ts = thread_counts(args)
    for _, w, _, _, scales in workloads:
        for t in (ts if scales and not args.quick else [DEFAULT_THREADS]):
            for rt in runtimes:
                if w in NA.get(rt.name, {}):
                    continue
                if rt.name in SINGLE_LOOP and t != DEFAULT_THREADS:
                    continue  # one loop: measured once, at "the default"
                if w == "http_plaintext" and rt.server_argv(0, t) is None:
                    continue
                steps.append((w, rt, t))
    return steps


def summarize(runs):
    """{(workload, runtime, threads): {metric: {median, min, max, n}}}"""
    groups = {}
    for r in runs:
        if r.get("metrics"):
            groups.setdefault((r["workload"], r["runtime"], r["threads"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        stats = {}
        for m in rs[0]["metrics"]:
            vs = [r["metrics"][m] for r in rs if m in r["metrics"]]
            stats[m] = {"median": statistics.median(vs), "min": min(vs), "max": max(vs),
                        "n": len(vs)}
        stats["_disturbed"] = sum(r["disturbed"] for r in rs)
        stats["_reruns"] = sum(r["attempts"] - 1 for r in rs)
        stats["_others_cores"] = statistics.median(r["others_cores"] for r in rs)
        out[key] = stats
    return out


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f} M"
    if a >= 1e4:
        return f"{v / 1e3:.0f} k"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def ratio(peer, weft, higher):
    """Peer's speed relative to weft's (> 1: the peer is faster)."""
    if not peer or not weft:
        return None
    return peer / weft if higher else weft / peer


def cell_key(rt, w, t):
    return (w, rt, 1 if rt in SINGLE_LOOP else t)


def markdown(data):
    s = data["summary"]
    rts = [r["name"] for r in data["runtimes"]]
    status = {r["name"]: r["status"] for r in data["runtimes"]}
    out = []
    m = data["machine"]
    out.append(f"Measured {data['date']} on {m['cpus']} CPUs ({m['cpu_model']}), load average "
               f"{m['loadavg_start']} at the start, {m['loadavg_end']} at the end; "
               f"command: `{data['command']}`.\n")
    out.append(f"Each cell: median of {data['reps']} processes at {DEFAULT_THREADS} threads "
               "(asyncio and uvloop: one loop), and in brackets the peer's speed relative to "
               "weft's (x2.0: twice as fast as weft; x0.5: half as fast). "
               "Min and max of every figure are in the JSON.\n")
    out.append("| id | workload | metric | " + " | ".join(rts) + " |")
    out.append("|---|---|---|" + "---|" * len(rts))
    for wid, w, metric, higher, _ in WORKLOADS:
        if w not in data["workloads"]:
            continue
        if w == "http_plaintext":
            metric = "requests_per_s"
        weft = s.get(cell_key("weft", w, DEFAULT_THREADS), {}).get(metric, {}).get("median")
        cells = []
        for rt in rts:
            if status[rt] != "ok":
                cells.append(status[rt])
                continue
            if w in NA.get(rt, {}):
                cells.append(NA[rt][w])
                continue
            err = data["errors"].get(f"{w}/{rt}")
            st = s.get(cell_key(rt, w, DEFAULT_THREADS), {}).get(metric)
            if st is None:
                cells.append(err or "not run")
                continue
            c = fmt(st["median"])
            if rt != "weft":
                r = ratio(st["median"], weft, higher)
                if r is not None:
                    c += f" (x{r:.2g})"
            cells.append(c)
        arrow = "higher is better" if higher else "lower is better"
        out.append(f"| {wid} | {w} | {metric} ({arrow}) | " + " | ".join(cells) + " |")
    # Secondary metrics.
    extra = [("http_plaintext", "server_user_us_per_req", False),
             ("timers", "cpu_s", False), ("fib_fork_join", "tasks_per_s", True)]
    out.append("\nSecondary metrics (same runs):\n")
    out.append("| workload | metric | " + " | ".join(rts) + " |")
    out.append("|---|---|" + "---|" * len(rts))
    for w, metric, higher in extra:
        if w not in data["workloads"]:
            continue
        cells = []
        for rt in rts:
            st = s.get(cell_key(rt, w, DEFAULT_THREADS), {}).get(metric)
            cells.append(fmt(st["median"]) if st else "-")
        out.append(f"| {w} | {metric} | " + " | ".join(cells) + " |")
    # Thread scaling.
    ts = data["threads"]
    if len(ts) > 1 and any(w[4] and w[1] in data["workloads"] for w in WORKLOADS):
        out.append("\nThread scaling (median; asyncio and uvloop have one loop):\n")
        out.append("| workload | threads | " + " | ".join(rts) + " |")
        out.append("|---|---|" + "---|" * len(rts))
        for _, w, metric, _, scales in WORKLOADS:
            if not scales or w not in data["workloads"]:
                continue
            for t in ts:
                cells = []
                for rt in rts:
                    st = None if rt in SINGLE_LOOP and t != 1 else s.get((w, rt, t), {}).get(metric)
                    cells.append(fmt(st["median"]) if st else "-")
                out.append(f"| {w} ({metric}) | {t} | " + " | ".join(cells) + " |")
    # Fairness.
    f = data["fairness"]
    out.append(f"\nFairness: {f['runs']} runs kept; {f['reruns']} reruns because other "
               f"processes used more than {data['max_others']} cores' worth of CPU during the "
               f"run; {f['disturbed']} kept runs were still disturbed after "
               f"{data['retries']} retries (the least disturbed attempt is kept"
               + (f"; runs longer than {data['retry_max_wall']} s are not rerun"
                  if data["retry_max_wall"] is not None else "") + "). Median CPU "
               f"used by others during a run: {f['median_others_cores']} cores.\n")
    for rt in rts:
        if status[rt] != "ok":
            out.append(f"- {rt}: {status[rt]}")
    errs = data["errors"]
    if errs:
        out.append("\nNot measured:\n")
        for k, v in sorted(errs.items()):
            out.append(f"- {k}: {v}")
    return "\n".join(out) + "\n"


def chart(data, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no chart: python3-matplotlib is not installed (bench/setup_peers.sh)"
    s = data["summary"]
    rts = [r["name"] for r in data["runtimes"] if r["status"] == "ok"]
    colors = {rt: plt.cm.tab10(i) for i, rt in enumerate(rts)}
    ws = [w for w in WORKLOADS if w[1] in data["workloads"]]
    cols = 4
    rows = (len(ws) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    ts = data["threads"]
    for ax, (wid, w, metric, higher, scales) in zip(axes.flat, ws):
        vals = []
        if scales and len(ts) > 1:
            for rt in rts:
                xs, ys, lo, hi = [], [], [], []
                for t in ([1] if rt in SINGLE_LOOP else ts):
                    st = s.get((w, rt, t), {}).get(metric)
                    if st:
                        xs.append(t)
                        ys.append(st["median"])
                        lo.append(st["median"] - st["min"])
                        hi.append(st["max"] - st["median"])
                if xs:
                    ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=rt,
                                color=colors[rt])
                    vals += ys
            ax.set_xlabel("threads")
            ax.set_xticks(ts)
        else:
            names, ys, lo, hi = [], [], [], []
            for rt in rts:
                st = s.get(cell_key(rt, w, DEFAULT_THREADS), {}).get(metric)
                if st:
                    names.append(rt)
                    ys.append(st["median"])
                    lo.append(st["median"] - st["min"])
                    hi.append(st["max"] - st["median"])
            ax.bar(range(len(names)), ys, yerr=[lo, hi], capsize=3,
                   color=[colors[n] for n in names])
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
            vals += ys
        pos = [v for v in vals if v > 0]
        if pos and max(pos) / min(pos) > 20:
            ax.set_yscale("log")
        ax.set_title(f"{wid} {w}\n{metric} ({'higher' if higher else 'lower'} is better)",
                     fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(ws):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=colors[rt], marker="o", label=rt) for rt in rts]
    fig.legend(handles=handles, loc="lower center", ncol=len(rts), fontsize=9)
    fig.suptitle(f"weft and peers, {data['date']} (median of {data['reps']}, bars: min-max)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    fig.savefig(path, dpi=90)
    return None


def machine_info():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "loadavg_start": " ".join(open("/proc/loadavg").read().split()[:3])}


def main():
    global CHILDREN
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="every workload once, scale 0.01, default threads only")
    ap.add_argument("--peers", help="comma-separated runtimes (default: all installed)")
    ap.add_argument("--workloads", help="comma-separated workload names (default: all)")
    ap.add_argument("--reps", type=int, default=5, help="processes per measurement (>= 5)")
    ap.add_argument("--scale", type=float, default=None, help="size factor (default 1)")
    ap.add_argument("--threads", help="thread counts, e.g. 1,2 (default 1, 2, ... nproc)")
    ap.add_argument("--max-others", type=float, default=0.5,
                    help="a run is disturbed when other processes used more than this many "
                         "cores' worth of CPU while it ran (default 0.5)")
    ap.add_argument("--retries", type=int, default=2, help="reruns of a disturbed run")
    ap.add_argument("--retry-max-wall", type=float, default=float("inf"),
                    help="do not rerun a disturbed run that took longer than this many seconds "
                         "(on a machine that is loaded throughout, reruns of long runs cost the "
                         "most and change the least)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run")
    ap.add_argument("--weft-http-server", default=os.environ.get("WEFT_HTTP_SERVER"),
                    help="W8: weft's server command; {port} and {threads} are substituted "
                         "(e.g. 'bazel-bin/examples/http_server --port {port}'). Without it "
                         "weft's W8 is reported as 'not built'")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--wrk-conns", type=int, default=64)
    ap.add_argument("--wrk-duration", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"),
                    help="directory for <date>.json/.md/.png")
    ap.add_argument("--name", help="file name (stem) of the results (default: the date, "
                                   "-quick appended in quick mode)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--bazel-flags", default="--config=opt",
                    help="flags for building //bench:workloads (default --config=opt; CI's "
                         "smoke test passes '' to reuse its fastbuild tree)")
    ap.add_argument("--report", metavar="JSON",
                    help="only rewrite the .md and .png of an earlier run from its .json")
    args = ap.parse_args()
    if args.report:
        with open(args.report) as f:
            data = json.load(f)
        data["summary"] = {tuple(int(x) if x.isdigit() else x for x in k.split("|")): v
                           for k, v in data["summary"].items()}
        stem = args.report[:-len(".json")]
        with open(stem + ".md", "w") as f:
            f.write(markdown(data))
        why = chart(data, stem + ".png")
        print(f"wrote {stem}.md" + (f", {stem}.png" if why is None else f" ({why})"))
        return 0
    if args.quick:  # a smoke test: runs of a few ms, below /proc/stat's 10 ms resolution
        args.reps, args.scale, args.retries = 1, args.scale or 0.01, 0
        args.wrk_duration = min(args.wrk_duration, 1)
    scale = args.scale or 1.0
    if not args.quick and args.reps < 5:
        print(f"note: --reps {args.reps} < 5; the README's figures use at least 5")
    CHILDREN = Children()
    Weft.bazel_flags = args.bazel_flags.split()

    runtimes = all_runtimes()
    if args.peers:
        want = args.peers.split(",")
        unknown = set(want) - {r.name for r in runtimes}
        if unknown:
            ap.error(f"unknown runtimes: {', '.join(sorted(unknown))}")
        runtimes = [r for r in runtimes if r.name in want]
    workloads = WORKLOADS
    if args.workloads:
        want = args.workloads.split(",")
        unknown = set(want) - set(WL)
        if unknown:
            ap.error(f"unknown workloads: {', '.join(sorted(unknown))}")
        workloads = [w for w in WORKLOADS if w[1] in want]
    if any(w[1] == "http_plaintext" for w in workloads) and not shutil.which("wrk"):
        print("W8 http_plaintext: skipped: wrk is not installed (bench/setup_peers.sh)")
        workloads = [w for w in workloads if w[1] != "http_plaintext"]

    # Build (opt) and check what is installed.
    status = {}
    for rt in runtimes:
        why = rt.available()
        if why is None and not args.no_build:
            print(f"build: {rt.name} ...", flush=True)
            try:
                rt.build()
            except (subprocess.CalledProcessError, OSError) as e:
                why = f"build failed: {e}"
        status[rt.name] = why or "ok"
        if why:
            print(f"{rt.name}: {why}")
    if args.weft_http_server:
        cmd = args.weft_http_server.split()
        if os.path.exists(cmd[0]):
            Weft.http_cmd = cmd
        else:
            print(f"W8 weft: not built ({cmd[0]} does not exist)")
    ok = [rt for rt in runtimes if status[rt.name] == "ok"]
    steps = plan(ok, workloads, args)
    errors = {}
    if any(w[1] == "http_plaintext" for w in workloads):
        for rt in ok:
            if "http_plaintext" not in NA.get(rt.name, {}) and rt.server_argv(0, 1) is None:
                errors[f"http_plaintext/{rt.name}"] = (
                    "not built (pass --weft-http-server)" if rt.name == "weft" else "not built")
    total = len(steps) * args.reps
    print(f"{len(ok)} runtimes ({', '.join(r.name for r in ok)}), {len(steps)} measurements x "
          f"{args.reps} repetitions = {total} runs, scale {scale}", flush=True)

    date = datetime.datetime.now(datetime.timezone.utc)
    mach = machine_info()
    runs = []
    started = time.monotonic()
    i = 0
    for rep in range(args.reps):
        for w, rt, t in steps:
            i += 1
            label = f"{WL[w][0]} {w} {rt.name}" + ("" if rt.name in SINGLE_LOOP else f" t={t}")
            if f"{w}/{rt.name}" in errors:
                continue  # failed or unsupported in an earlier repetition
            if w == "http_plaintext":
                rec = measure_http(rt.server_argv("{port}", t), rt.env(t), args)
            else:
                rec = measure(rt, w, scale, t, args)
            rec |= {"workload": w, "runtime": rt.name, "rep": rep,
                    "threads": 1 if rt.name in SINGLE_LOOP else t}
            runs.append(rec)
            if rec.get("metrics"):
                metric = "requests_per_s" if w == "http_plaintext" else WL[w][2]
                v = rec["metrics"].get(metric)
                note = f"{metric}={fmt(v)}" if v is not None else "unsupported"
                if v is None:
                    errors[f"{w}/{rt.name}"] = "the program says unsupported"
            else:
                note = f"FAILED: {rec['error']}"
                errors[f"{w}/{rt.name}"] = "failed: " + rec["error"]
            fair = f"others {rec.get('others_cores', 0):.2f} cores"
            if rec["attempts"] > 1:
                fair += f", {rec['attempts'] - 1} rerun(s)"
            if rec.get("disturbed"):
                fair += ", DISTURBED"
            print(f"[{i:4d}/{total}] rep {rep + 1}/{args.reps} {label}: {note} "
                  f"({rec.get('wall_s', 0):.2f}s, {fair}) "
                  f"[{time.monotonic() - started:.0f}s]", flush=True)

    summary = summarize(runs)
    kept = [r for r in runs if r.get("metrics")]
    mach["loadavg_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
    cmd = "bench/suite.py " + shlex.join(sys.argv[1:])
    data = {
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "command": cmd.strip(),
        "machine": mach,
        "reps": args.reps, "scale": scale, "threads": thread_counts(args) if not args.quick
        else [DEFAULT_THREADS],
        "max_others": args.max_others, "retries": args.retries,
        "retry_max_wall": None if args.retry_max_wall == float("inf") else args.retry_max_wall,
        "workloads": [w[1] for w in workloads],
        "runtimes": [{"name": rt.name, "status": status[rt.name]} for rt in runtimes],
        "na": {rt: dict(v) for rt, v in NA.items()},
        "errors": errors,
        "fairness": {"runs": len(kept), "reruns": sum(r["attempts"] - 1 for r in runs),
                     "disturbed": sum(1 for r in kept if r["disturbed"]),
                     "median_others_cores": round(statistics.median(
                         [r["others_cores"] for r in kept]), 3) if kept else 0},
        "summary": {"|".join(map(str, k)): v for k, v in summary.items()},
        "runs": [{k: (v.name if isinstance(v, Runtime) else v) for k, v in r.items()}
                 for r in runs],
    }
    data_for_md = dict(data, summary=summary)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, args.name or
                        date.strftime("%Y-%m-%d") + ("-quick" if args.quick else ""))
    with open(stem + ".json", "w") as f:
        json.dump(data, f, indent=1)
    md = markdown(data_for_md)
    with open(stem + ".md", "w") as f:
        f.write(md)
    why = chart(data_for_md, stem + ".png")
    print()
    print(md)
    print(f"wrote {stem}.json, {stem}.md" + (f", {stem}.png" if why is None else f" ({why})"))
    failed = [k for k, v in errors.items() if v.startswith("failed")]
    broken = [rt.name for rt in runtimes if status[rt.name].startswith("build failed")]
    if failed or broken:
        print(f"FAILED: {', '.join(failed + broken)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
