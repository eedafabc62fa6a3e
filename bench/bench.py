#!/usr/bin/env python3
"""tend's benchmark driver (started by bench/run.sh, which builds the release
binary first). Measures, in one run, the machine's SMTP ceiling and tend end
to end on SQLite and PostgreSQL at the same connection count, the planner over
large lists, importing them, rendering alone, max RSS and database sizes, each
as the median and range of several repetitions. Wall times are measured from
the outside: every figure includes process start and everything tend does.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TEND = os.path.join(ROOT, "target", "release", "tend")
NOW = "2026-03-10T10:00:00Z"
# A day and a bit later: retries and the relay's pause are over.
LATER = "2026-03-11T12:00:00Z"
PG_BASE = os.environ.get(
    "TEND_BENCH_POSTGRES", "postgres://postgres:postgres@127.0.0.1:5432"
).rstrip("/")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def spread(values):
    """`median [min–max]` of a list of numbers."""
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def fmt(s, unit="", digits=0):
    if s is None:
        return "–"
    f = f"{{:,.{digits}f}}"
    m, lo, hi = (f.format(s[k]) for k in ("median", "min", "max"))
    return f"{m}{unit} [{lo}–{hi}]" if s["n"] > 1 else f"{m}{unit}"


def timed(cmd, cwd, env=None):
    """Runs a command under GNU time: (wall seconds, max RSS KiB, stdout)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        start = time.perf_counter()
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", t.name] + cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wall = time.perf_counter() - start
        if p.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}"
            )
        rss = int(t.read().strip().splitlines()[-1])
    return wall, rss, p.stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sink:
    """postfix's smtp-sink on a free port: accepts and discards everything."""

    def __init__(self):
        self.port = free_port()
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        self.proc = subprocess.Popen(
            ["smtp-sink", "-u", user, f"127.0.0.1:{self.port}", "256"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("smtp-sink did not start")

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def settle(db):
    """Folds the WAL into the file and truncates it, so the file alone is
    the whole database (and may be copied)."""
    import sqlite3
    c = sqlite3.connect(db)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()


def copy_db(src, dst):
    settle(src)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(dst + suffix):
            os.remove(dst + suffix)
    shutil.copy(src, dst)


def ceiling(sink, n, connections, size):
    start = time.perf_counter()
    subprocess.run(
        ["smtp-source", "-s", str(connections), "-m", str(n), "-l", str(size),
         "-f", "bench@acme.example", "-t", "sink@example.com",
         f"127.0.0.1:{sink.port}"],
        check=True,
    )
    return n / (time.perf_counter() - start)


def write_contacts(path, n, mixed):
    """`n` contacts. `mixed`: joined over two years, a fifth never active,
    the rest active at some point, so stages (and campaigns) differ."""
    now = datetime.datetime(2026, 3, 10, 10, tzinfo=datetime.timezone.utc)
    zones = ["Europe/Berlin", "America/New_York", "", "Asia/Tokyo"]
    with open(path, "w") as f:
        f.write("email,name,created_at,last_activity_at,timezone,plan\n")
        for i in range(n):
            if mixed:
                created = now - datetime.timedelta(seconds=(i * 7919) % (86400 * 730))
                active = "" if i % 5 == 0 else (
                    now - datetime.timedelta(seconds=(i * 104729) % (86400 * 700))
                ).strftime("%Y-%m-%dT%H:%M:%SZ")
            else:
                created = now - datetime.timedelta(days=1)
                active = ""
            name = "" if i % 7 == 0 else f"Contact{i} Person"
            f.write(
                f"c{i}@example{i % 50}.com,{name},{created.strftime('%Y-%m-%dT%H:%M:%SZ')},"
                f"{active},{zones[i % 4]},{'pro' if i % 3 else 'basic'}\n"
            )


def workspace(base, db_url, port, connections):
    """A directory with the shipped campaigns and templates and a config."""
    os.makedirs(base, exist_ok=True)
    for d in ("campaigns", "templates"):
        shutil.copytree(os.path.join(ROOT, d), os.path.join(base, d), dirs_exist_ok=True)
    os.makedirs(os.path.join(base, "config"), exist_ok=True)
    with open(os.path.join(base, "config", "tend.toml"), "w") as f:
        # A password may not sit in the config file: the URL goes in the environment.
        f.write(f"""[paths]
campaigns = "{base}/campaigns"
templates = "{base}/templates"
[smtp]
transport = "smtp"
host = "127.0.0.1"
port = {port}
tls = "none"
connections = {connections}
[sending]
from = "Bench <bench@acme.example>"
rate = "100000/s"
[http]
listen = ""
""")
    env = dict(os.environ)
    env["TEND_CONFIG"] = os.path.join(base, "config", "tend.toml")
    env["TEND__DATABASE__URL"] = db_url
    env.pop("RUST_LOG", None)
    return env


def psql(url, sql):
    return subprocess.run(
        ["psql", url, "-tA", "-c", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


class Database:
    """A fresh database for one repetition: a SQLite file or a throwaway
    PostgreSQL database (dropped on close)."""

    def __init__(self, kind, dir):
        self.kind = kind
        if kind == "sqlite":
            self.path = os.path.join(dir, "tend.db")
            self.url = f"sqlite://{self.path}"
        else:
            self.name = f"tend_bench_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
            psql(f"{PG_BASE}/postgres", f"CREATE DATABASE {self.name}")
            self.url = f"{PG_BASE}/{self.name}"

    def size(self):
        if self.kind == "sqlite":
            settle(self.path)
            return sum(
                os.path.getsize(self.path + s)
                for s in ("", "-wal", "-shm")
                if os.path.exists(self.path + s)
            )
        return int(psql(self.url, "SELECT pg_database_size(current_database())"))

    def close(self):
        if self.kind == "postgres":
            psql(f"{PG_BASE}/postgres", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def pg_available():
    try:
        psql(f"{PG_BASE}/postgres", "SELECT 1")
        return True
    except (subprocess.CalledProcessError, FileNotFoundError):
        return False


def e2e(kind, sink, csv, n, connections, tmp, rep):
    """Import, then `tend run --once` (tick, claim, render, send, record)."""
    dir = os.path.join(tmp, f"e2e-{kind}-{rep}")
    os.makedirs(dir)
    db = Database(kind, dir)
    try:
        env = workspace(dir, db.url, sink.port, connections)
        _, import_rss, _ = timed([TEND, "contacts", "import", csv], dir, env)
        wall, rss, out = timed([TEND, "--json", "run", "--once", "--now", NOW], dir, env)
        result = json.loads(out)
        sent = result["sent"]["sent"]
        if sent != n:
            raise RuntimeError(f"{kind}: sent {sent} of {n}: {result['sent']}")
        size = db.size()
    finally:
        db.close()
    return {"rate": sent / wall, "wall": wall, "rss": rss, "size": size}


def plan_bench(size, reps, tmp, sink, connections, drain):
    """Import `size` contacts once; then the dry-run `plan` and the real tick,
    each on a fresh copy; optionally a drain of everything the tick queued."""
    dir = os.path.join(tmp, f"plan-{size}")
    os.makedirs(dir)
    csv = os.path.join(dir, "contacts.csv")
    log(f"  generating {size:,} contacts")
    write_contacts(csv, size, mixed=True)
    pristine = os.path.join(dir, "pristine.db")
    # The tick runs as `tend run --once` against a port nobody listens on:
    # it enrols and queues for real, then the first refused connections
    # pause sending (the relay's breaker) and it exits.
    closed = free_port()
    env = workspace(dir, f"sqlite://{pristine}", closed, connections)
    log("  importing")
    imp_wall, imp_rss, _ = timed([TEND, "contacts", "import", csv], dir, env)
    os.remove(csv)
    settle(pristine)
    r = {"import_wall": imp_wall, "import_rss": imp_rss,
         "import_size": os.path.getsize(pristine),
         "dry": [], "dry_rss": [], "tick": [], "tick_rss": []}
    for rep in range(reps):
        log(f"  dry run {rep + 1}/{reps}")
        wall, rss, out = timed([TEND, "--json", "plan", "--now", NOW], dir, env)
        r["dry"].append(wall)
        r["dry_rss"].append(rss)
        dry = json.loads(out)
        r["entering"] = sum(c.get("entering", 0) for c in dry["campaigns"])
        r["due"] = dry.get("queued", 0)
    work = os.path.join(dir, "tick.db")
    tick_env = workspace(dir, f"sqlite://{work}", closed, connections)
    drain_env = workspace(dir + "-drain", f"sqlite://{work}", sink.port, connections)
    for rep in range(reps):
        log(f"  tick {rep + 1}/{reps}")
        copy_db(pristine, work)
        wall, rss, out = timed([TEND, "--json", "run", "--once", "--now", NOW], dir, tick_env)
        result = json.loads(out)
        r["tick"].append(wall)
        r["tick_rss"].append(rss)
        r["queued"] = result["plan"]["queued"]
        r["entered"] = sum(c.get("entering", 0) for c in result["plan"]["campaigns"])
        settle(work)
        r["tick_size"] = os.path.getsize(work)
    if drain:
        log(f"  draining {r['queued']:,} sends")
        wall, rss, out = timed([TEND, "--json", "run", "--once", "--now", LATER], dir, drain_env)
        sent = json.loads(out)["sent"]["sent"]
        settle(work)
        r["drain"] = {"sent": sent, "wall": wall, "rss": rss, "rate": sent / wall,
                      "size": os.path.getsize(work)}
    return r


def render_bench():
    """The divan benchmark: messages/s on one core (median of its samples)."""
    p = subprocess.run(
        ["cargo", "bench", "--quiet", "--bench", "render"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    rates = {}
    name = None
    for line in p.stdout.splitlines():
        m = re.match(r"^[├╰]─ (\w+)", line)
        if m:
            name = m.group(1)
        # divan prints throughput on the line after the times: "123.4 Kitem/s"
        t = re.findall(r"([\d.]+)\s*(K|M)?item/s", line)
        if t and name and name not in rates:
            # columns: fastest, slowest, median, mean
            v, unit = t[2] if len(t) >= 3 else t[0]
            rates[name] = float(v) * {"K": 1e3, "M": 1e6, "": 1, None: 1}[unit or ""]
    return rates, p.stdout


def machine():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(open("/proc/meminfo").readline().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    disk = subprocess.run(["df", "-h", "--output=source,fstype", tempfile.gettempdir()],
                          capture_output=True, text=True).stdout.splitlines()[-1].split()
    return f"{cpu}, {os.cpu_count()} cores, {mem} RAM, {platform.system()} {platform.release()}, temp dir on {' '.join(disk)}"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true",
                    help="plan over 100k and 1M, drain the 100k tick's sends")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--plan-reps", type=int, default=None, help="repetitions of plan and tick (default --reps)")
    ap.add_argument("--contacts", type=int, default=10000, help="end-to-end list size")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--plan-sizes", default=None, help="comma-separated (default 100000)")
    ap.add_argument("--drain", type=int, default=None, metavar="SIZE",
                    help="drain the sends the tick over SIZE contacts queued (--full: 100000)")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-render", action="store_true")
    ap.add_argument("--message-size", type=int, default=2048,
                    help="smtp-source message size (bytes)")
    ap.add_argument("--write", help="write the results as markdown to this file")
    a = ap.parse_args()
    sizes = [int(s) for s in (a.plan_sizes or ("100000,1000000" if a.full else "100000")).split(",") if s]
    drain = a.drain if a.drain is not None else (100000 if a.full else 0)
    command = "bench/run.sh " + " ".join(sys.argv[1:])
    started = datetime.datetime.now(datetime.timezone.utc)
    stores = ["sqlite"] + ([] if a.no_pg else ["postgres"])
    if "postgres" in stores and not pg_available():
        log(f"PostgreSQL not reachable at {PG_BASE}: skipped")
        stores.remove("postgres")

    tmp = tempfile.mkdtemp(prefix="tend-bench-")
    sink = Sink()
    results = {"stores": {}, "plan": {}}
    try:
        csv = os.path.join(tmp, "contacts.csv")
        write_contacts(csv, a.contacts, mixed=False)
        ceilings = {k: [] for k in stores}
        runs = {k: [] for k in stores}
        # Interleaved: ceiling, then each store, per repetition, so drift in
        # the machine's load touches all of them alike.
        for rep in range(a.reps):
            for kind in stores:
                log(f"e2e {kind} {rep + 1}/{a.reps}: ceiling")
                ceilings[kind].append(ceiling(sink, a.contacts, a.connections, a.message_size))
                log(f"e2e {kind} {rep + 1}/{a.reps}: tend")
                runs[kind].append(e2e(kind, sink, csv, a.contacts, a.connections, tmp, rep))
        for kind in stores:
            c, r = ceilings[kind], runs[kind]
            results["stores"][kind] = {
                "ceiling": spread(c),
                "rate": spread([x["rate"] for x in r]),
                "ratio": spread([100 * x["rate"] / y for x, y in zip(r, c)]),
                "rss": spread([x["rss"] for x in r]),
                "size": spread([x["size"] for x in r]),
            }
        for size in sizes:
            log(f"plan over {size:,} contacts")
            p = plan_bench(size, a.plan_reps or a.reps, tmp, sink, a.connections, size == drain)
            results["plan"][size] = p
        if not a.no_render:
            log("render (cargo bench --bench render)")
            results["render"], results["render_raw"] = render_bench()
    finally:
        sink.close()
        shutil.rmtree(tmp, ignore_errors=True)

    md = report(results, a, command, started, stores)
    print(md)
    if a.write:
        with open(a.write, "w") as f:
            f.write(md)


def report(res, a, command, started, stores):
    mb = lambda kib: kib / 1024
    L = []
    L.append(f"# tend benchmark results\n")
    L.append(f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')}")
    L.append(f"- machine: {machine()}")
    L.append(f"- command: `{command}`")
    L.append(f"- figures: median [min–max] of {a.reps} repetitions; wall times from outside the process (start-up included)\n")
    L.append(f"## End to end: {a.contacts:,} contacts, {a.connections} connections, every send recorded\n")
    L.append("`tend run --once` (tick, claim, render, send, record) into postfix's `smtp-sink`; the ceiling is "
             f"postfix's `smtp-source` ({a.message_size}-byte messages) into the same sink at the same connection count, "
             "measured right before each tend run.\n")
    L.append("| store | ceiling (msg/s) | tend (msg/s) | ratio | max RSS | database size |")
    L.append("|---|---|---|---|---|---|")
    for kind in stores:
        s = res["stores"][kind]
        rss = {k: (mb(v) if k in ("median", "min", "max") else v) for k, v in s["rss"].items()}
        size = {k: (v / 2**20 if k in ("median", "min", "max") else v) for k, v in s["size"].items()}
        L.append(f"| {kind} | {fmt(s['ceiling'])} | {fmt(s['rate'])} | {fmt(s['ratio'], ' %', 1)} | "
                 f"{fmt(rss, ' MB', 1)} | {fmt(size, ' MB', 1)} |")
    for size, p in res["plan"].items():
        L.append(f"\n## Planner over {size:,} contacts (SQLite)\n")
        L.append(f"- import: {p['import_wall']:.1f} s, max RSS {mb(p['import_rss']):.0f} MB, database {p['import_size'] / 2**20:.0f} MB")
        L.append(f"- dry run (`tend plan`): {fmt(spread(p['dry']), ' s', 2)}, max RSS {mb(max(p['dry_rss'])):.0f} MB; {p.get('entering', 0):,} would enter, {p.get('due', 0):,} sends due")
        L.append(f"- real tick (`tend run --once` with the relay unreachable: enrol, queue, then paused): {fmt(spread(p['tick']), ' s', 2)}, "
                 f"max RSS {mb(max(p['tick_rss'])):.0f} MB; {p.get('entered', 0):,} entered, {p.get('queued', 0):,} sends queued; database after {p['tick_size'] / 2**20:.0f} MB")
        if "drain" in p:
            d = p["drain"]
            L.append(f"- drain (`tend run --once` a day later, into the sink): {d['sent']:,} sent in {d['wall']:.1f} s "
                     f"({d['rate']:,.0f} msg/s), max RSS {mb(d['rss']):.0f} MB; database after {d['size'] / 2**20:.0f} MB")
    if "render" in res:
        L.append("\n## Rendering alone (`cargo bench --bench render`, one core)\n")
        for name, rate in res["render"].items():
            L.append(f"- {name}: {rate:,.0f} messages/s (median)")
        L.append("\n```\n" + res["render_raw"].strip() + "\n```")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
