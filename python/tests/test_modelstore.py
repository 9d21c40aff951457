"""The modelstore Python package against a real PostgreSQL server.

Run by CTest (py_modelstore) through python/tests/run.sh, which sources
the pg_harness.sh state file (DATABASE_URL, PGPORT, MS_PG_BIN, ...) and
puts the built package on PYTHONPATH.  Every test uses its own model
names, so tests never see each other's versions.
"""
import json
import os
import subprocess
import tempfile
import threading
import time
import tracemalloc
import unittest
import uuid

import modelstore as ms

try:
    import numpy as np
except ImportError:  # pragma: no cover - python3-numpy comes with sklearn
    np = None

CLI = os.environ.get("MS_CLI")
# Child processes never get a sanitizer runtime preloaded for python.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def setUpModule():
    ms.migrate()


def psql(sql):
    """Run SQL as the superuser (to corrupt rows on purpose)."""
    return subprocess.run(
        [os.path.join(os.environ["MS_PG_BIN"], "psql"), "-XAtq",
         "-v", "ON_ERROR_STOP=1", "-c", sql, os.environ["DATABASE_URL"]],
        check=True, capture_output=True, text=True, env=CHILD_ENV).stdout


def cli_json(*args):
    out = subprocess.run([CLI, "--json", *args], check=True,
                         capture_output=True, text=True, env=CHILD_ENV).stdout
    return json.loads(out)


def assert_gil_released(tc, call):
    """Run @call while another thread spins, recording timestamps; the
    spinner must have run in the middle half of the call.  Holding the GIL
    inside C for the whole call, it could not run there at all."""
    ticks = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks.append(time.monotonic())
    t = threading.Thread(target=spin)
    t.start()
    try:
        t0 = time.monotonic()
        call()
        t1 = time.monotonic()
    finally:
        stop.set()
        t.join()
    lo, hi = t0 + (t1 - t0) * 0.25, t0 + (t1 - t0) * 0.75
    inside = sum(1 for x in ticks if lo < x < hi)
    tc.assertGreater(inside, 100, f"{inside} ticks in {t1 - t0:.3f} s")


def row_count(name):
    return int(psql("SELECT count(*) FROM model_artifacts "
                    f"WHERE model_name = '{name}'"))


class StoreTest(unittest.TestCase):
    def setUp(self):
        self.s = ms.Store()
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.addCleanup(self.s.close)

    def path(self, name, data=None):
        p = os.path.join(self.tmp.name, name)
        if data is not None:
            with open(p, "wb") as f:
                f.write(data)
        return p

    def test_push_bytes_and_path_then_pull_both_ways(self):
        scaler = self.path("scaler.bin", b"scaler-bytes" * 1000)
        v = self.s.push(b"model-bytes", name="rt", version="v1",
                        model_type="Ridge", run_id="run-1",
                        extra={"scaler": scaler, "notes": bytearray(b"n")})
        self.assertEqual(v, "v1")
        self.assertEqual(self.s.pull("v1", name="rt"), b"model-bytes")
        self.assertEqual(self.s.pull("v1", name="rt", artifact="scaler"),
                         b"scaler-bytes" * 1000)
        self.assertEqual(self.s.pull("latest", name="rt", artifact="notes"),
                         b"n")
        out = self.path("out.bin")
        info = self.s.pull("v1", name="rt", path=out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"model-bytes")
        self.assertEqual(info["model_version"], "v1")
        info = self.s.show("v1", name="rt")
        self.assertEqual((info["run_id"], info["model_type"]),
                         ("run-1", "Ridge"))
        self.assertFalse(info["is_production"])

    def test_push_file_path_chunked_and_compressed(self):
        data = os.urandom(3 << 20) + b"\0" * (2 << 20)
        p = self.path("big.bin", data)
        self.s.push(p, name="big", version="plain")
        self.s.push(data, name="big", version="zipped", compress=True)
        for ver, comp in (("plain", "none"), ("zipped", "zlib")):
            info = self.s.show(ver, name="big")
            self.assertEqual(info["compression"], comp)
            self.assertEqual(info["model_size_bytes"], len(data))
            self.assertEqual(self.s.pull(ver, name="big"), data)
        self.assertGreater(self.s.show("plain", name="big")["chunk_count"], 1)

    def test_params_keep_their_json_types_and_metrics_fill_columns(self):
        params = {"n_estimators": 100, "layers": [64, 32], "alpha": 0.5,
                  "solver": "lbfgs", "warm": True, "seed": None}
        self.s.push(b"m", name="types", version="v1", params=params,
                    metrics={"accuracy": 0.93, "rmse": 1.5, "f1": 0.8})
        info = self.s.show("v1", name="types")
        self.assertEqual(info["params"], params)
        self.assertIsInstance(info["params"]["n_estimators"], int)
        self.assertEqual(info["accuracy_score"], 0.93)
        self.assertEqual(info["rmse_score"], 1.5)
        self.assertIsNone(info["r2_score"])
        self.assertEqual(info["metrics"],
                         {"accuracy": 0.93, "rmse": 1.5, "f1": 0.8})

    @unittest.skipUnless(CLI, "MS_CLI not set")
    def test_list_and_show_have_the_keys_and_values_of_the_cli(self):
        self.s.push(b"a", name="keys", version="v1", metrics={"r2": 0.5},
                    params={"k": [1]}, production=True)
        self.s.push(b"bb", name="keys", version="v2")
        mine = self.s.list("keys")
        theirs = cli_json("--name", "keys", "list")
        self.assertEqual(mine, theirs)
        self.assertEqual([r["model_version"] for r in mine], ["v2", "v1"])
        self.assertEqual(self.s.show(name="keys"),
                         cli_json("--name", "keys", "show", "production"))
        self.assertEqual(len(self.s.list("keys", limit=1)), 1)

    def test_list_sort_where_limit(self):
        """Sorted and filtered by the library: the expected order, with
        versions lacking the sort metric last and left out by where."""
        for i, (acc, f1) in enumerate([(0.7, 0.1), (0.95, 0.3), (0.9, 0.9)]):
            self.s.push(b"x", name="sorted", version=f"v{i}",
                        metrics={"accuracy": acc, "f1": f1})
        self.s.push(b"x", name="sorted", version="nometric")
        rows = self.s.list("sorted", where="accuracy>=0.9")
        self.assertEqual(sorted(r["model_version"] for r in rows),
                         ["v1", "v2"])
        rows = self.s.list("sorted", sort="f1", desc=True)
        self.assertEqual([r["model_version"] for r in rows],
                         ["v2", "v1", "v0", "nometric"])
        rows = self.s.list("sorted", sort="f1")
        self.assertEqual([r["model_version"] for r in rows],
                         ["v0", "v1", "v2", "nometric"])
        rows = self.s.list("sorted", sort="accuracy", where="f1 < 0.5",
                           limit=1)
        self.assertEqual([r["model_version"] for r in rows], ["v0"])
        rows = self.s.list("sorted", sort="accuracy", desc=True,
                           where="accuracy > 0.8 AND f1 >= 0.2")
        self.assertEqual([r["model_version"] for r in rows], ["v1", "v2"])
        rows = self.s.list("sorted", where="accuracy != 0.9 and f1 = 0.1")
        self.assertEqual([r["model_version"] for r in rows], ["v0"])

    @unittest.skipUnless(CLI, "MS_CLI not set")
    def test_list_sort_where_equals_the_cli(self):
        for i, (acc, rmse) in enumerate([(0.8, 3.0), (0.92, 2.0),
                                         (0.97, 4.0), (0.91, 1.0)]):
            self.s.push(b"y", name="cliwhere", version=f"v{i}",
                        metrics={"accuracy": acc, "rmse": rmse})
        mine = self.s.list("cliwhere", sort="rmse", desc=True,
                           where="accuracy >= 0.9 and rmse < 3.5")
        self.assertEqual([r["model_version"] for r in mine], ["v1", "v3"])
        self.assertEqual(mine, cli_json(
            "--name", "cliwhere", "list", "--sort", "rmse", "--desc",
            "--where", "accuracy >= 0.9 and rmse < 3.5"))

    @unittest.skipUnless(CLI, "MS_CLI not set")
    def test_list_uses_the_latest_metric_point_of_a_version(self):
        """A value appended to a version after its push (model_metrics,
        `runs log --version`) is the one list() sorts and filters on."""
        for v, acc in (("a", 0.9), ("b", 0.8), ("c", 0.85)):
            self.s.push(b"m", name="latestpt", version=v,
                        metrics={"accuracy": acc})
        self.assertEqual([r["model_version"] for r in
                          self.s.list("latestpt", sort="accuracy")],
                         ["b", "c", "a"])
        subprocess.run([CLI, "--name", "latestpt", "runs", "log",
                        "--version", "a", "accuracy=0.5"], check=True,
                       capture_output=True, env=CHILD_ENV)
        self.assertEqual([r["model_version"] for r in
                          self.s.list("latestpt", sort="accuracy")],
                         ["a", "b", "c"])
        self.assertEqual([r["model_version"] for r in self.s.list(
            "latestpt", where="accuracy < 0.6")], ["a"])
        hist = self.s.show("a", name="latestpt")["metric_history"]
        self.assertEqual((hist["accuracy"]["last"],
                          hist["accuracy"]["count"]), (0.5, 2))

    def test_list_bad_where_raises_invalid_argument_naming_it(self):
        self.s.push(b"x", name="badwhere", version="v1",
                    metrics={"accuracy": 0.9})
        cases = [("accuracy => 0.9", '"=>"'),
                 ("accuracy >= 0.9; DROP TABLE x", '"0.9;"'),
                 ("accuracy >= high", '"high"'),
                 ("accuracy >= 0.9 or rmse < 1", '"or'),
                 ("1abc > 2", "offset 0")]
        for where, token in cases:
            with self.subTest(where=where):
                with self.assertRaises(ms.InvalidArgument) as cm:
                    self.s.list("badwhere", where=where)
                msg = str(cm.exception)
                self.assertIn("where expression", msg)
                self.assertIn(token, msg)
        with self.assertRaises(ms.InvalidArgument) as cm:
            self.s.list("badwhere", sort="no such metric!")
        self.assertEqual(cm.exception.status, 2)
        self.assertEqual(
            [r["model_version"] for r in self.s.list("badwhere")], ["v1"])

    def test_promote_rollback_and_prune(self):
        for v in ("v1", "v2", "v3"):
            self.s.push(b"m" + v.encode(), name="life", version=v)
        self.s.promote("v1", name="life", reason="first")
        self.s.promote("v3", name="life")
        self.assertEqual(self.s.show(name="life")["model_version"], "v3")
        self.assertEqual(self.s.rollback(name="life", reason="bad"), "v1")
        self.assertEqual(self.s.show(name="life")["model_version"], "v1")
        # keep=1 keeps the newest (v3) and production (v1)
        self.assertEqual(self.s.prune(1, name="life", dry_run=True), ["v2"])
        self.assertEqual(row_count("life"), 3)
        self.assertEqual(self.s.prune(0, name="life"), ["v3", "v2"])
        self.assertEqual([r["model_version"] for r in self.s.list("life")],
                         ["v1"])
        with self.assertRaises(ms.NotFound):
            self.s.promote("v2", name="life")

    def test_verify_reports_a_corrupted_row_and_pull_refuses_it(self):
        self.s.push(b"good bytes", name="corrupt", version="v1")
        rep = self.s.verify("corrupt")
        self.assertEqual((rep["checked"], rep["mismatched"]), (1, 0))
        self.assertEqual(rep["artifacts"][0]["status"], "ok")
        psql("UPDATE model_artifacts SET model_binary = 'evil bytes' "
             "WHERE model_name = 'corrupt'")
        rep = self.s.verify("corrupt")
        self.assertEqual(rep["mismatched"], 1)
        self.assertEqual(rep["artifacts"][0]["status"], "MISMATCH")
        with self.assertRaises(ms.IntegrityError):
            self.s.pull("v1", name="corrupt")
        out = self.path("never.bin")
        with self.assertRaises(ms.IntegrityError):
            self.s.pull("v1", name="corrupt", path=out)
        self.assertFalse(os.path.exists(out))

    def test_store_serialises_calls_from_many_threads(self):
        self.s.push(b"shared", name="threads", version="v1")
        errors, results = [], []

        def work():
            try:
                for _ in range(20):
                    results.append(self.s.pull("v1", name="threads"))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(results, [b"shared"] * 80)

    def test_closed_store_raises(self):
        self.s.close()
        self.s.close()
        with self.assertRaises(ms.Error) as cm:
            self.s.list()
        self.assertIn("closed", str(cm.exception))


class BadInputTest(unittest.TestCase):
    """Bad input gets the right exception and leaves the database as it
    was."""

    def setUp(self):
        self.s = ms.Store()
        self.addCleanup(self.s.close)
        self.n = "bad-" + self._testMethodName
        self.s.push(b"base", name=self.n, version="v1")
        self.before = psql("SELECT model_version, artifact, sha256 FROM "
                           "model_artifacts ORDER BY id")

    def assertUnchanged(self):
        self.assertEqual(psql("SELECT model_version, artifact, sha256 FROM "
                              "model_artifacts ORDER BY id"), self.before)

    def test_invalid_push_arguments(self):
        cases = [
            dict(name="bad name!"), dict(name=self.n, version="production"),
            dict(name=self.n, version="x" * 51),
            dict(name=self.n, extra={"model": b"dup"}),
            dict(name=self.n, extra={"../evil": b"x"}),
            dict(name=self.n, compress=10),
            dict(name=self.n, metrics={"accuracy": float("nan")}),
            dict(name=self.n, metrics={"loss": float("inf")}),
            dict(name=self.n, params={"obj": object()}),
        ]
        for kw in cases:
            with self.subTest(kw=kw):
                with self.assertRaises(ms.InvalidArgument) as cm:
                    self.s.push(b"payload", **kw)
                self.assertIsInstance(cm.exception, ValueError)
                self.assertEqual(cm.exception.status, 2)
                self.assertTrue(str(cm.exception))
        self.assertUnchanged()

    def test_existing_version_is_refused_whole(self):
        with self.assertRaises(ms.AlreadyExists):
            self.s.push(b"again", name=self.n, version="v1",
                        extra={"scaler": b"would be new"})
        self.assertUnchanged()

    def test_missing_file_and_wrong_types(self):
        with self.assertRaises(ms.NotFound):
            self.s.push("/nonexistent/model.bin", name=self.n)
        with self.assertRaises(TypeError):
            self.s.push(12345, name=self.n)
        with self.assertRaises(ms.NotFound):
            self.s.show("v9", name=self.n)
        with self.assertRaises(ms.InvalidArgument):
            self.s.show("v1", name="bad/../x")
        with self.assertRaises(ms.InvalidArgument):
            self.s.list(limit=-1)
        self.assertUnchanged()

    def test_bad_actuals(self):
        with self.assertRaises(ms.InvalidArgument):
            self.s.record_actual("not-a-uuid", 1.0)
        with self.assertRaises(ms.NotFound):
            self.s.record_actual(str(uuid.uuid4()), 1.0)
        with self.assertRaises(ms.InvalidArgument):
            self.s.record_actual(str(uuid.uuid4()), float("nan"))
        with self.assertRaises(ms.InvalidArgument) as cm:
            self.s.record_actuals([(str(uuid.uuid4()), 1.0),
                                   ("not-a-uuid", 2.0)])
        self.assertIn("row 1", str(cm.exception))
        with self.assertRaises(ms.InvalidArgument) as cm:
            self.s.record_actuals([(str(uuid.uuid4()), float("inf"))])
        self.assertIn("row 0", str(cm.exception))
        with self.assertRaises(ms.InvalidArgument):
            self.s.record_actuals([], batch_size=0)
        self.assertUnchanged()


class PasswordTest(unittest.TestCase):
    """No password in any exception (pg_harness.sh creates ms_pwuser with
    scram-sha-256 authentication over TCP)."""

    SECRET = "wrong-secret-pw-4711"

    def url(self):
        return (f"postgresql://ms_pwuser:{self.SECRET}@127.0.0.1:"
                f"{os.environ['PGPORT']}/postgres")

    def check(self, exc):
        for text in (str(exc), repr(exc), repr(exc.args)):
            self.assertNotIn(self.SECRET, text)

    def test_store_loader_logger_never_show_the_password(self):
        with self.assertRaises(ms.Unreachable) as cm:
            ms.Store(self.url())
        self.check(cm.exception)
        self.assertIn("ms_pwuser", str(cm.exception))
        with tempfile.TemporaryDirectory() as d:
            with ms.Loader(self.url(), fallback_dir=d, watch=False) as l:
                with self.assertRaises(ms.Unreachable) as cm:
                    l.get("pw")
                self.check(cm.exception)
            with ms.PredictionLogger(self.url(), spool_dir=d) as p:
                p.log("v1", {"x": 1}, 1.0)
                p.flush(timeout=30)  # spooled: the server refused us
                self.assertEqual(p.stats()["spooled"], 1)
                self.assertIn("ms_pwuser", p.last_error())
                self.assertNotIn(self.SECRET, p.last_error())
        with self.assertRaises(ms.InvalidArgument) as cm:
            ms.Store(f"postgresql://u:{self.SECRET}@[bad")
        self.check(cm.exception)


class LoaderTest(unittest.TestCase):
    def setUp(self):
        self.s = ms.Store()
        self.addCleanup(self.s.close)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def loader(self, **kw):
        kw.setdefault("fallback_dir", self.tmp.name)
        kw.setdefault("watch", False)
        l = ms.Loader(**kw)
        self.addCleanup(l.close)
        return l

    def test_get_sources_metadata_and_stats(self):
        self.s.push(b"served", name="serve", version="v1",
                    metrics={"r2": 0.7, "mae": 2.0}, production=True)
        l = self.loader()
        m = l.get("serve")
        self.assertEqual((m.name, m.version, m.source), ("serve", "v1",
                                                         "database"))
        self.assertEqual(m.sha256, self.s.show(name="serve")["sha256"])
        self.assertEqual(m.metrics, {"r2": 0.7, "mae": 2.0})
        self.assertTrue(m.verified)
        self.assertEqual((len(m), m.size, bytes(m)), (6, 6, b"served"))
        self.assertEqual(l.get("serve").source, "cache")
        self.assertEqual(l.get("serve", "v1").version, "v1")
        st = l.stats()
        self.assertEqual((st["hits"] >= 1, st["db_loads"]), (True, 1))
        with self.assertRaises(ms.NotFound):
            l.get("serve", "v404")
        with self.assertRaises(ms.InvalidArgument):
            l.get("serve", "no/such")

    def test_preload_last_error_and_target(self):
        self.s.push(b"p", name="preload", version="v1", production=True)
        self.assertIn(os.environ["PGPORT"], self.s.target)
        l = self.loader()
        self.assertGreaterEqual(l.preload(), 1)
        self.assertEqual(l.get("preload").source, "cache")
        with self.assertRaises(ms.NotFound):
            l.get("preload", "v2")
        self.assertIsInstance(l.last_error(), str)
        l.close()
        with self.assertRaises(ms.Error):
            l.get("preload")

    def test_fallback_when_database_is_down(self):
        self.s.push(b"fallback bytes", name="fb", version="v1",
                    production=True)
        self.s.export(name="fb", dir=self.tmp.name)
        l = self.loader(url="postgresql://postgres@127.0.0.1:1/postgres")
        m = l.get("fb")
        self.assertEqual((m.source, m.version, bytes(m)),
                         ("fallback", "v1", b"fallback bytes"))

    def test_watch_follows_a_promotion(self):
        self.s.push(b"one", name="watched", version="v1", production=True)
        self.s.push(b"two", name="watched", version="v2")
        l = self.loader(watch=True)
        self.assertEqual(l.get("watched").version, "v1")
        self.s.promote("v2", name="watched")
        deadline = time.monotonic() + 20
        while l.get("watched").version != "v2":  # observable state
            self.assertLess(time.monotonic(), deadline, "no reload")
        self.assertEqual(bytes(l.get("watched")), b"two")

    def test_zero_copy_views_share_the_library_buffer(self):
        size = 32 << 20
        self.s.push(os.urandom(1024) * (size // 1024), name="zc",
                    version="v1", production=True)
        l = self.loader()
        m = l.get("zc")
        m2 = l.get("zc")  # a cache hit: another handle on the same bytes
        self.assertEqual(m2.source, "cache")
        tracemalloc.start()
        try:
            v1 = memoryview(m)
            v2 = memoryview(m2)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 64 * 1024, "a view copied the bytes")
        self.assertTrue(v1.readonly and v2.readonly)
        self.assertEqual((v1.nbytes, v1.format, v1.ndim), (size, "B", 1))
        with self.assertRaises(TypeError):
            v1[0] = 0
        if np is not None:
            a1 = np.frombuffer(v1, dtype=np.uint8).ctypes.data
            a2 = np.frombuffer(v2, dtype=np.uint8).ctypes.data
            self.assertEqual(a1, a2)
            self.assertEqual(a1, m._address)
        self.assertEqual(m._address, m2._address)
        # The view keeps the handle alive after the Model and the Loader
        # are gone.
        sha = m.sha256
        del m, m2
        l.close()
        import hashlib
        self.assertEqual(hashlib.sha256(v1).hexdigest(), sha)
        v1.release()
        v2.release()

    def test_load_releases_the_gil(self):
        """A cold 200 MB load lets another thread run meanwhile."""
        self.s.push(b"\1" * (200 << 20), name="gil", version="v1",
                    production=True)
        l = self.loader()
        assert_gil_released(self, lambda: l.get("gil"))

    def test_push_and_pull_release_the_gil(self):
        data = b"\2" * (200 << 20)
        assert_gil_released(
            self, lambda: self.s.push(data, name="gilpush", version="v1"))
        assert_gil_released(self, lambda: self.s.pull("v1", name="gilpush"))


class PredictionTest(unittest.TestCase):
    def setUp(self):
        self.s = ms.Store()
        self.addCleanup(self.s.close)
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.n = "pred-" + self._testMethodName
        self.s.push(b"m", name=self.n, version="v1", production=True)

    def test_log_flush_record_actuals_report(self):
        with ms.PredictionLogger(spool_dir=self.tmp.name) as p:
            ids = [p.log("v1", {"x": i, "tag": "a"}, float(i),
                         confidence=0.5, name=self.n) for i in range(300)]
            ids.append(p.log("v1", '{"x": -1}', 0.0, actual=1.0,
                             name=self.n))
            p.flush(timeout=30)
            st = p.stats()
        self.assertEqual((st["accepted"], st["written"]), (301, 301))
        self.assertEqual(len(set(ids)), 301)
        for i in ids:
            uuid.UUID(i)
        r = self.s.record_actuals(((pid, i + 2.0)
                                   for i, pid in enumerate(ids[:300])),
                                  batch_size=128)
        self.assertEqual(r, {"rows": 300, "matched": 300, "unmatched": 0,
                             "unmatched_ids": []})
        self.s.record_actual(ids[0], 2.0)
        rep = self.s.report(self.n)
        row = rep["versions"][0]
        self.assertEqual((row["prediction_count"],
                          row["predictions_with_actual"]), (301, 301))
        self.assertAlmostEqual(row["mean_absolute_error"], 2.0 * 300 / 301
                               + 1.0 / 301)

    def logged(self, n):
        with ms.PredictionLogger(spool_dir=self.tmp.name) as p:
            ids = [p.log("v1", {"x": i}, float(i), name=self.n)
                   for i in range(n)]
            p.flush(timeout=30)
            self.assertEqual(p.stats()["written"], n)
        return ids

    def with_actual(self):
        return int(psql("SELECT count(*) FROM model_predictions WHERE "
                        f"model_name = '{self.n}' AND actual_value IS NOT "
                        "NULL"))

    def test_record_actuals_reports_unmatched_ids(self):
        ids = self.logged(10)
        ghosts = [str(uuid.uuid4()) for _ in range(3)]
        pairs = [(ids[0], 1.0), (ghosts[0], 2.0)] + \
            [(pid, 10.0 + i) for i, pid in enumerate(ids[1:])] + \
            [(ghosts[1], 3.0), (ghosts[2], 4.0), (ids[0], 5.0)]
        r = self.s.record_actuals(pairs, batch_size=4)
        # 14 rows in 4 batches; ids[0] is matched in its first and last
        # batch (once per batch, as the C API counts).
        self.assertEqual((r["rows"], r["matched"], r["unmatched"]),
                         (14, 11, 3))
        self.assertEqual(r["unmatched_ids"], ghosts)
        self.assertEqual(self.with_actual(), 10)
        got = psql("SELECT actual_value FROM model_predictions WHERE "
                   f"prediction_id = '{ids[0]}'").strip()
        self.assertEqual(float(got), 5.0)  # the last value wins

    def test_record_actuals_batch_is_all_or_nothing(self):
        """A bad row stops its batch before anything of it is written (one
        bulk call per batch, not one update per pair); the batches before
        it stay, and the message says where."""
        ids = self.logged(6)
        pairs = [(pid, 1.0) for pid in ids[:3]] + \
            [(ids[3], 1.0), (ids[4], 1.0), ("not-a-uuid", 1.0),
             (ids[5], 1.0)]
        with self.assertRaises(ms.InvalidArgument) as cm:
            self.s.record_actuals(pairs, batch_size=3)
        msg = str(cm.exception)
        self.assertIn("batch starting at item 3", msg)
        self.assertIn("3 rows recorded before it", msg)
        self.assertIn("row 2", msg)
        self.assertEqual(self.with_actual(), 3)

    def test_bad_predictions_are_refused(self):
        with ms.PredictionLogger(spool_dir=self.tmp.name) as p:
            for feats in ("[1, 2]", "{bad json", {"x": float("nan")},
                          {"x": object()}):
                with self.subTest(features=feats):
                    with self.assertRaises(ms.InvalidArgument):
                        p.log("v1", feats, 1.0, name=self.n)
            with self.assertRaises(ms.InvalidArgument):
                p.log("", {"x": 1}, 1.0, name=self.n)
            with self.assertRaises(ms.InvalidArgument):
                p.log("v1", {"x": 1}, 1.0, name="bad name")
            with self.assertRaises(TypeError):
                p.log("v1", {"x": 1}, "not a number", name=self.n)
            p.flush(timeout=30)
            self.assertEqual(p.stats()["written"], 0)
        with self.assertRaises(ms.Error):
            p.log("v1", {"x": 1}, 1.0)  # closed
        p.close()  # idempotent
        self.assertEqual(psql("SELECT count(*) FROM model_predictions "
                              f"WHERE model_name = '{self.n}'").strip(), "0")

    def test_flush_releases_the_gil(self):
        """With neither a database nor a spool to take the row, flush waits
        its whole timeout, without the GIL; close then reports the drop."""
        spool = os.path.join(self.tmp.name, "spool")
        p = ms.PredictionLogger("postgresql://postgres@127.0.0.1:1/postgres",
                                spool_dir=spool)
        with open(spool, "wb"):  # a file where the spool directory goes
            pass
        p.log("v1", {"x": 1}, 1.0, name=self.n)

        def flush():
            with self.assertRaises(ms.Timeout):
                p.flush(timeout=0.5)
        assert_gil_released(self, flush)
        with self.assertRaises(ms.Full):
            p.close()


class RunTest(unittest.TestCase):
    """Training runs through Store.start_run (ms_run_*)."""

    PARAMS = {"n_estimators": 100, "layers": [64, 32], "alpha": 0.5,
              "solver": "lbfgs", "warm": True, "seed": None}

    def setUp(self):
        self.s = ms.Store()
        self.addCleanup(self.s.close)
        self.n = "run-" + self._testMethodName[5:30]

    def test_start_run_round_trip(self):
        with self.s.start_run(name=self.n, params=self.PARAMS,
                              tags={"team": "risk", "gpu": 2},
                              dataset_size=442) as run:
            self.assertEqual(run.status, "running")
            self.assertEqual(self.s.run(run.id)["status"], "running")
            for step in (2, 0, 1):  # logged out of order
                run.log_metric("loss", 1.0 / (step + 1), step=step)
            self.assertEqual(run.log_metrics({"acc": 0.9, "f1": 0.8},
                                             step=3), 2)
            run.log_metric("loss", 0.05)  # no step: last in the history
            version = run.push(b"trained", version="v1", model_type="MLP",
                               metrics={"accuracy": 0.91})
        self.assertEqual(run.status, "finished")
        uuid.UUID(run.id)  # generated: a UUID
        got = self.s.run(run.id)
        self.assertEqual(got["status"], "finished")
        self.assertIsNotNone(got["ended_at"])
        self.assertEqual(got["params"], self.PARAMS)
        self.assertIsInstance(got["params"]["n_estimators"], int)
        self.assertIsInstance(got["params"]["layers"], list)
        self.assertIs(got["params"]["warm"], True)
        self.assertEqual(got["tags"], {"team": "risk", "gpu": 2})
        self.assertEqual(got["dataset_size"], 442)
        self.assertEqual(got["versions"], [version])
        loss = got["metrics"]["loss"]
        self.assertEqual(loss["count"], 4)
        self.assertEqual([(h["step"], h["value"]) for h in loss["history"]],
                         [(0, 1.0), (1, 0.5), (2, 1.0 / 3), (None, 0.05)])
        self.assertEqual(got["metrics"]["acc"]["history"][0]["step"], 3)
        # The version belongs to the run and carries its params.
        info = self.s.show("v1", name=self.n)
        self.assertEqual(info["run_id"], run.id)
        self.assertEqual(info["params"], self.PARAMS)
        listed = self.s.runs(self.n)
        self.assertEqual([r["run_id"] for r in listed], [run.id])
        self.assertEqual(listed[0]["metrics"]["acc"], 0.9)
        self.assertIn(run.id, [r["run_id"] for r in self.s.runs()])
        only = self.s.run(run.id, metric="acc")["metrics"]
        self.assertEqual(list(only), ["acc"])

    def test_given_run_id_and_runs_limit(self):
        with self.s.start_run(name=self.n, run_id="exp-42") as run:
            self.assertEqual(run.id, "exp-42")
        with self.s.start_run(name=self.n):
            pass
        self.assertEqual(len(self.s.runs(self.n)), 2)
        self.assertEqual(len(self.s.runs(self.n, limit=1)), 1)
        with self.assertRaises(ms.AlreadyExists):
            self.s.start_run(name=self.n, run_id="exp-42")

    def test_exception_marks_the_run_failed(self):
        with self.assertRaises(ZeroDivisionError):
            with self.s.start_run(name=self.n) as run:
                run.log_metric("loss", 0.7, step=0)
                1 / 0
        self.assertEqual(run.status, "failed")
        got = self.s.run(run.id)
        self.assertEqual(got["status"], "failed")
        self.assertEqual(got["metrics"]["loss"]["last"], 0.7)
        with self.assertRaises(ms.InvalidArgument) as cm:
            run.log_metric("loss", 0.1)  # no longer running
        self.assertIn("failed", str(cm.exception))

    def test_keyboard_interrupt_marks_the_run_killed(self):
        with self.assertRaises(KeyboardInterrupt):
            with self.s.start_run(name=self.n) as run:
                raise KeyboardInterrupt
        self.assertEqual(self.s.run(run.id)["status"], "killed")

    def test_finished_by_hand_is_left_as_it_is(self):
        with self.s.start_run(name=self.n) as run:
            run.finish("killed")
        self.assertEqual(self.s.run(run.id)["status"], "killed")
        with self.assertRaises(ms.InvalidArgument) as cm:
            run.finish()
        self.assertIn("killed", str(cm.exception))

    def test_log_metrics_10000_points_in_one_batch(self):
        pts = [("val/loss", 1.0 / (i + 1), i) for i in range(10000)]
        with self.s.start_run(name=self.n) as run:
            self.assertEqual(run.log_metrics(pts), 10000)
            # All or nothing: one bad point at the very end writes none of
            # the 10 000 before it (a point-by-point loop would).
            bad = [("acc", 0.5, i) for i in range(9999)] + \
                [("acc", float("nan"), 9999)]
            with self.assertRaises(ms.InvalidArgument) as cm:
                run.log_metrics(bad)
            self.assertIn("9999", str(cm.exception))
            # (key, value) pairs take the call's step.
            run.log_metrics([("lr", 0.1), ("lr", 0.01, 7)], step=5)
            if np is not None:  # numpy scalars, as training loops have
                run.log_metrics([("np", np.float32(0.25), np.int64(2))])
        got = self.s.run(run.id)["metrics"]
        self.assertNotIn("acc", got)
        h = got["val/loss"]["history"]
        self.assertEqual(got["val/loss"]["count"], 10000)
        self.assertEqual([x["step"] for x in h], list(range(10000)))
        self.assertEqual(h[9999]["value"], 1.0 / 10000)
        self.assertEqual([(x["step"], x["value"])
                          for x in got["lr"]["history"]],
                         [(5, 0.1), (7, 0.01)])
        if np is not None:
            self.assertEqual([(x["step"], x["value"])
                              for x in got["np"]["history"]], [(2, 0.25)])

    def test_bad_run_input(self):
        with self.assertRaises(ms.InvalidArgument):
            self.s.start_run(name="bad name!")
        with self.assertRaises(ms.InvalidArgument):
            self.s.start_run(name=self.n, params=["not", "a", "mapping"])
        with self.assertRaises(ms.InvalidArgument):
            self.s.start_run(name=self.n, params={"x": float("nan")})
        with self.assertRaises(ms.InvalidArgument):
            self.s.start_run(name=self.n, dataset_size=-1)
        with self.assertRaises(ms.NotFound):
            self.s.run("no-such-run")
        with self.s.start_run(name=self.n) as run:
            for args, exc in ((("loss", float("inf")), ms.InvalidArgument),
                              (("bad metric!", 1.0), ms.InvalidArgument),
                              (("loss", 1.0, -1), ms.InvalidArgument),
                              (("loss", "high"), TypeError),
                              (("loss", 1.0, 1.5), TypeError)):
                with self.subTest(args=args):
                    with self.assertRaises(exc):
                        run.log_metric(*args)
            with self.assertRaises(TypeError):
                run.log_metrics([("loss",)])
            with self.assertRaises(ms.InvalidArgument):
                run.log_metrics({"loss": 1.0}, step=-3)
            for status in ("running", "done"):
                with self.assertRaises(ms.InvalidArgument):
                    run.finish(status)
        self.assertEqual(self.s.run(run.id)["metrics"], {})
        self.assertEqual(self.s.run(run.id)["status"], "finished")
        self.assertEqual(len(self.s.runs(self.n)), 1)

    def test_run_calls_release_the_gil(self):
        """A large batch lets another thread run while it travels."""
        pts = [("m", float(i), i) for i in range(200000)]
        with self.s.start_run(name=self.n) as run:
            assert_gil_released(self, lambda: run.log_metrics(pts))
        self.assertEqual(self.s.run(run.id)["metrics"]["m"]["count"],
                         200000)

    def test_closed_store_refuses_run_calls(self):
        run = self.s.start_run(name=self.n)
        self.s.close()
        with self.assertRaises(ms.Error) as cm:
            run.log_metric("loss", 1.0)
        self.assertIn("closed", str(cm.exception))
        with self.assertRaises(ms.Error):
            self.s.runs()


class ErrorsTest(unittest.TestCase):
    def test_hierarchy_and_status(self):
        for cls, status in ((ms.InvalidArgument, 2), (ms.NotFound, 3),
                            (ms.AlreadyExists, 4), (ms.Unreachable, 5),
                            (ms.IntegrityError, 6), (ms.LocalIOError, 7),
                            (ms.Timeout, 9), (ms.SchemaError, 10),
                            (ms.Full, 11)):
            self.assertTrue(issubclass(cls, ms.Error))
            e = cls("why", status)
            self.assertEqual((str(e), e.status), ("why", status))
        self.assertEqual(ms.NotFound("x", 3).status_name, "not found")

    def test_unreachable(self):
        with self.assertRaises(ms.Unreachable):
            ms.Store("postgresql://postgres@127.0.0.1:1/postgres")


if __name__ == "__main__":
    unittest.main()
