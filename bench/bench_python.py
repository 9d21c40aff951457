#!/usr/bin/python3
"""The Python package beside the same calls from C, in one run.

    DATABASE_URL=... bench/bench_python.py [--build build] [--quick]

1. Loader.get on a cached model: median and p99 per call from Python,
   against ms_loader_get + ms_model_release timed in C (a hook of the
   extension) on the same loader, in the same process;
2. PredictionLogger.log (dict features, and JSON text) against
   ms_predlog_log timed in C on the same logger;
3. push and pull of 200 MB (random bytes) through Python against the CLI
   (`modelstore push`, `modelstore pull -o`), median of --runs.
4. a training run: Run.log_metrics of 10 000 points (one batch, one
   round trip) against Run.log_metric one point per call.

Targets (issue 10): get < 5 us median, log < 5 us median, push and pull
at least 0.9 of the CLI's throughput.  Each Python timing includes one
perf_counter_ns() pair (its cost is printed).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def pct(ns, p):
    s = sorted(ns)
    return s[min(len(s) - 1, int(len(s) * p))]


def line(what, py, c):
    pm, p99 = statistics.median(py) / 1000, pct(py, 0.99) / 1000
    cm, c99 = statistics.median(c) / 1000, pct(c, 0.99) / 1000
    print(f"  {what:<34} python median {pm:6.2f} us  p99 {p99:6.2f} us   "
          f"C median {cm:6.2f} us  p99 {c99:6.2f} us")
    return pm


def timed_calls(fn, n):
    t = time.perf_counter_ns
    out = [0] * n
    for i in range(n):
        a = t()
        fn()
        out[i] = t() - a
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=200)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.build, "python"))
    import modelstore as ms
    from modelstore import _modelstore as _c
    cli = os.path.join(a.build, "cli", "modelstore")
    n = 20000 if a.quick else 200000
    ms.migrate()
    work = tempfile.mkdtemp(prefix="ms-bench-py.")
    try:
        run(a, ms, _c, cli, n, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(a, ms, _c, cli, n, work):
    tpc = timed_calls(lambda: None, 100000)
    print(f"python {sys.version.split()[0]}, libmodelstore "
          f"{ms.LIBRARY_VERSION}; perf_counter_ns pair + empty lambda: "
          f"median {statistics.median(tpc)} ns")

    # 1. cached get
    with ms.Store() as s:
        try:
            s.show("v1", name="bench_py_small")
        except ms.NotFound:
            s.push(os.urandom(4096), name="bench_py_small", version="v1",
                   production=True)
    with ms.Loader(fallback_dir=os.path.join(work, "models"),
                   watch=False) as l:
        l.get("bench_py_small")
        get = l.get
        py = timed_calls(lambda: get("bench_py_small"), n)
        c = _c._bench_get(l._l, "bench_py_small", "production", n)
        gm = line("Loader.get (cached, 4 KiB)", py, c)

    # 2. log
    feats = {"f0": 0.5, "f1": 1.25, "f2": -3.0, "f3": 42.0, "city": "Oslo"}
    ftext = '{"f0":0.5,"f1":1.25,"f2":-3.0,"f3":42.0,"city":"Oslo"}'
    m = min(n, 50000)  # stay inside the 65536-row queue
    with ms.PredictionLogger(spool_dir=os.path.join(work, "spool")) as p:
        log = p.log
        py = timed_calls(lambda: log("v1", feats, 1.5, confidence=0.9,
                                     name="bench_py_small"), m)
        p.flush(timeout=120)
        pyt = timed_calls(lambda: log("v1", ftext, 1.5, confidence=0.9,
                                      name="bench_py_small"), m)
        p.flush(timeout=120)
        c = _c._bench_log(p._p, "v1", ftext, "bench_py_small", m)
        p.flush(timeout=120)
        lm = line("PredictionLogger.log (dict)", py, c)
        line("PredictionLogger.log (JSON text)", pyt, c)

    # 4. (before the big transfers) a run: one batch against single calls
    with ms.Store() as s:
        with s.start_run(name="bench_py_run") as r:
            pts = [("loss", 1.0 / (i + 1), i) for i in range(10000)]
            t0 = time.perf_counter()
            r.log_metrics(pts)
            tb = time.perf_counter() - t0
            k = 200 if a.quick else 1000
            t0 = time.perf_counter()
            for i in range(k):
                r.log_metric("single", 0.5, step=i)
            ts = (time.perf_counter() - t0) / k
        print(f"  Run.log_metrics, 10 000 points in one batch: "
              f"{tb * 1000:.1f} ms ({tb / 10000 * 1e6:.2f} us/point); "
              f"Run.log_metric: {ts * 1e6:.1f} us/call")

    # 3. 200 MB push and pull
    size = a.mb << 20
    src = os.path.join(work, "big.bin")
    with open(src, "wb") as f:
        for _ in range(a.mb):
            f.write(os.urandom(1 << 20))
    with open(src, "rb") as f:
        data = f.read()
    times = {k: [] for k in ("cli push", "py push(path)", "py push(bytes)",
                             "cli pull", "py pull(path)", "py pull()")}
    env = dict(os.environ)
    stamp = int(time.time())
    with ms.Store() as s:
        for r in range(a.runs):
            v = f"r{stamp}_{r}"

            def clock(key, fn):
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
            clock("cli push", lambda: subprocess.run(
                [cli, "--name", "bench_py_cli", "-q", "push", "--version", v,
                 src], check=True, env=env, stdout=subprocess.DEVNULL))
            clock("py push(path)", lambda: s.push(src, name="bench_py_path",
                                                  version=v))
            clock("py push(bytes)", lambda: s.push(
                data, name="bench_py_bytes", version=v))
            out = os.path.join(work, "out.bin")
            clock("cli pull", lambda: subprocess.run(
                [cli, "--name", "bench_py_cli", "-q", "pull", v, "-o", out,
                 "--force"],
                check=True, env=env, stdout=subprocess.DEVNULL))
            clock("py pull(path)", lambda: s.pull(v, name="bench_py_path",
                                                  path=out))
            got = []
            clock("py pull()", lambda: got.append(
                s.pull(v, name="bench_py_bytes")))
            assert got[0] == data
            del got
            for nm in ("bench_py_cli", "bench_py_path", "bench_py_bytes"):
                s.prune(0, name=nm)
    mbs = {k: size / statistics.median(t) / 1e6 for k, t in times.items()}
    print(f"  {a.mb} MB, median of {a.runs} runs (MB/s, ratio to the CLI):")
    for k in times:
        base = mbs["cli push" if "push" in k else "cli pull"]
        print(f"    {k:<16} {mbs[k]:7.1f} MB/s  {mbs[k] / base:5.2f}x")
    ok_push = min(mbs["py push(path)"], mbs["py push(bytes)"]) \
        >= 0.9 * mbs["cli push"]
    ok_pull = min(mbs["py pull(path)"], mbs["py pull()"]) \
        >= 0.9 * mbs["cli pull"]
    print(f"  targets: get<5us {'met' if gm < 5 else 'MISSED'}, "
          f"log<5us {'met' if lm < 5 else 'MISSED'}, "
          f"push>=0.9 CLI {'met' if ok_push else 'MISSED'}, "
          f"pull>=0.9 CLI {'met' if ok_pull else 'MISSED'}")


if __name__ == "__main__":
    main()
