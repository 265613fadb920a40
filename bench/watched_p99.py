#!/usr/bin/env python3
"""Is a high p99 in section `watched` the daemon's or the machine's?

Interleaved rounds of the daemon unwatched, the daemon with one /_mp/events
subscriber and nginx proxy_cache (all three started once, the daemons with --cache-ttl 3600 so that no
refresh moves connections to the main thread, each pinned to CPU
0, wrk -c64 for 3 s on CPU 1, as in section `watched`), printing each round's
p50/p99/p99.9/max, the CPU pressure of the machine (/proc/pressure/cpu: share
of the time some task waited for a CPU) and, per thread of the server, CPU
seconds run and seconds spent runnable but waiting for the CPU per wall
second (/proc/PID/task/TID/schedstat) and involuntary context switches.

    bench/watched_p99.py --build-dir build --rounds 5
"""
import argparse, sys, time, json, threading, types, os
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import prawmp_bench as pb

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--build-dir", default=str(pb.ROOT / "build"))
parser.add_argument("--rounds", type=int, default=5)
opts = parser.parse_args()
ROUNDS = opts.rounds
args = types.SimpleNamespace(smoke=False, build_dir=opts.build_dir, daemon=None, fake=None,
                             only="", keep=False, duration=None)
b = pb.Bench(args)
path = "/r/python/hot.json"

def sched(pid):
    out = {}
    try:
        tasks = list(Path("/proc/%d/task" % pid).iterdir())
    except OSError:   # nginx's cache loader exits after a minute
        return out
    for t in tasks:
        try:
            name = (t / "comm").read_text().strip()
            run, wait, slices = map(int, (t / "schedstat").read_text().split())
            st = (t / "status").read_text()
            inv = int([l for l in st.splitlines() if l.startswith("nonvoluntary_ctxt_switches")][0].split()[1])
            out[t.name] = ("main" if int(t.name) == pid else name + "/" + t.name, run, wait, inv)
        except OSError:
            pass
    return out

def pids_of(proc):
    pids = [proc.pid]
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                st = Path("/proc/%s/stat" % e).read_text()
                if int(st[st.rindex(")") + 2:].split()[1]) == proc.pid:
                    pids.append(int(e))
            except OSError:
                pass
    return pids

def pressure():
    return int(Path("/proc/pressure/cpu").read_text().split()[4].split("=")[1])

try:
    fake = b.fake("p99-fake", 100000000, 600, 0)
    du = b.daemon("p99-unwatched", fake.port, ["--threads", "1", "--cache-ttl", "3600"], cpus="0")
    dw = b.daemon("p99-watched", fake.port, ["--threads", "1", "--cache-ttl", "3600"], cpus="0")
    n = b.nginx_proxy("p99-nginx", fake.port, workers=1, cpus="0")
    for p in (du, dw, n):
        b.wrk_run(p.port, path, 8, 1, cpus="1")
    stop = threading.Event()
    reader, received = b._subscribe(dw.port, stop)
    time.sleep(0.5)
    results = {"unwatched": [], "watched": [], "nginx": []}
    for r in range(ROUNDS):
        for name, proc in (("unwatched", du), ("watched", dw), ("nginx", n)):
            ps = pids_of(proc)
            s0 = {p: sched(p) for p in ps}
            pr0, t0 = pressure(), time.time()
            res = b.wrk_run(proc.port, path, 64, 3, cpus="1", script="report.lua")
            wall = time.time() - t0
            s1 = {p: sched(p) for p in ps}
            pr = (pressure() - pr0) / 1e6 / wall
            threads = []
            for p in ps:
                for tid, (nm, run, wait, inv) in s1[p].items():
                    if tid in s0.get(p, {}):
                        _, run0, wait0, inv0 = s0[p][tid]
                        if run - run0 > 1e6:
                            threads.append("%s run %.2f wait %.2f inv %d" % (nm, (run - run0) / 1e9 / wall,
                                           (wait - wait0) / 1e9 / wall, inv - inv0))
            results[name].append(res)
            print("round %d %-9s %6.0f/s p50 %5.2f p99 %7.2f p99.9 %7.2f max %7.2f ms | cpu-pressure %.2f | %s" % (
                r, name, res["rps"], res["p50_us"] / 1e3, res["p99_us"] / 1e3, res["p999_us"] / 1e3,
                res.get("max_us", 0) / 1e3, pr, "; ".join(threads)), flush=True)
    st = json.loads(pb.http_call(dw.port, "GET", "/_mp/stats")[2])
    print("subscriber alive", reader.is_alive(), "bytes", received[0], "notsent", st.get("requestEventsNotSent"),
          "engine", st.get("engine"))
    stop.set()
finally:
    b.procs.stop_all()
    import shutil
    shutil.rmtree(b.tmp, ignore_errors=True)
