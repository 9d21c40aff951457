"""modelstore: model binaries in PostgreSQL, from Python.

A native package over libmodelstore (the C library of this repository):
the C extension ``modelstore._modelstore`` includes the library's public
header, so every struct they share is checked by the compiler.  This
module adds keyword arguments, docstrings, type hints, context managers
and one exception class per library status.

Three handles, as in C (a :class:`Run` works through its Store's):

* :class:`Store` -- the registry: push, pull, list (sorted and filtered
  by metrics), show, promote, rollback, prune, verify, record actual
  values, report, training runs (:meth:`Store.start_run` gives a
  :class:`Run`).  One connection; calls from several threads are
  serialised by a lock.
* :class:`Loader` -- cached, zero-copy models for inference, with a
  filesystem fallback and hot reload on promotion.  Thread-safe.
* :class:`PredictionLogger` -- asynchronous prediction logging (queue,
  writer thread, spool on disk when the database is down).  Thread-safe.

Every call that may wait on the network or the disk (connect, push, pull,
list, a run's calls, a loader's load, flush, close, record_actuals, ...)
releases the GIL.  ``url=None`` means ``$DATABASE_URL``, then libpq's environment
(PGHOST, PGPORT, ...).  Exception messages come from the library and
never contain a password.
"""
from __future__ import annotations

import json
import os
from typing import (Any, Dict, Iterable, List, Mapping, Optional, Tuple,
                    Union)

from . import _modelstore as _c

__all__ = [
    "Store", "Run", "Loader", "Model", "PredictionLogger", "migrate",
    "Error", "InvalidArgument", "NotFound", "AlreadyExists", "Unreachable",
    "IntegrityError", "LocalIOError", "OutOfMemory", "Timeout",
    "SchemaError", "Full", "LIBRARY_VERSION",
]

#: The version of libmodelstore compiled into the extension.
LIBRARY_VERSION: str = _c.LIBRARY_VERSION
__version__ = LIBRARY_VERSION

PathLike = Union[str, "os.PathLike[str]"]
#: What push() accepts for an artifact: a file path, or the bytes.
Source = Union[PathLike, bytes, bytearray, memoryview]


# ---------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------

class Error(Exception):
    """A libmodelstore failure.

    ``str(e)`` is the library's message (never a password); ``e.status``
    the library's ``ms_status`` code and ``e.status_name`` its text.
    """

    def __init__(self, message: str, status: int = _c.ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def status_name(self) -> str:
        return _c.status_str(self.status)


class InvalidArgument(Error, ValueError):
    """MS_EINVAL: an invalid argument, name, version or option."""


class NotFound(Error, LookupError):
    """MS_ENOTFOUND: no such model, version, artifact, prediction or file."""


class AlreadyExists(Error):
    """MS_EEXISTS: that version already has that artifact."""


class Unreachable(Error):
    """MS_EUNREACHABLE: the database cannot be reached (or auth failed)."""


class IntegrityError(Error):
    """MS_EINTEGRITY: bytes did not match their SHA-256 or size."""


class LocalIOError(Error):
    """MS_EIO: a local file could not be read or written."""


class OutOfMemory(Error, MemoryError):
    """MS_ENOMEM."""


class Timeout(Error):
    """MS_ETIMEDOUT: a deadline passed (PredictionLogger.flush)."""


class SchemaError(Error):
    """MS_ESCHEMA: no schema, a needed migration missing (migrate), or a
    breaking migration this library does not know (upgrade)."""


class Full(Error):
    """MS_EFULL: queue and spool are full, or rows were dropped."""


_c._register_errors({
    _c.ERROR: Error, _c.EINVAL: InvalidArgument, _c.ENOTFOUND: NotFound,
    _c.EEXISTS: AlreadyExists, _c.EUNREACHABLE: Unreachable,
    _c.EINTEGRITY: IntegrityError, _c.EIO: LocalIOError,
    _c.ENOMEM: OutOfMemory, _c.ETIMEDOUT: Timeout,
    _c.ESCHEMA: SchemaError, _c.EFULL: Full,
})

#: A loaded model (from the C extension): bytes through the buffer
#: protocol, zero-copy and read-only, plus .name, .version, .sha256,
#: .source, .metrics, .model_type, .verified, .size.
Model = _c.Model


def migrate(url: Optional[str] = None) -> int:
    """Apply pending schema migrations; returns how many were applied.

    Idempotent; concurrent callers serialise on an advisory lock.
    """
    return _c.migrate(url)


# ---------------------------------------------------------------------
# Store
# ---------------------------------------------------------------------

_SEED_COLUMNS = ("accuracy", "rmse", "r2")


def _json_object(what: str, obj: Optional[Mapping[str, Any]]) -> Optional[str]:
    if obj is None:
        return None
    if not isinstance(obj, Mapping):
        raise InvalidArgument(f"{what} must be a mapping, not "
                              f"{type(obj).__name__}", _c.EINVAL)
    try:
        return json.dumps(dict(obj), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"{what}: {e}", _c.EINVAL) from None


def _source(what: str, value: Source) -> Union[str, bytes, bytearray,
                                                memoryview]:
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return value
    try:
        return memoryview(value)  # any other buffer (numpy array, Model)
    except TypeError:
        raise TypeError(f"{what} must be a path or a bytes-like object, "
                        f"not {type(value).__name__}") from None


class Store:
    """A connection to the model registry.

    ``Store(url=None)``: ``None`` means ``$DATABASE_URL``, then libpq's
    environment.  Raises :class:`Unreachable` when the server cannot be
    reached, :class:`SchemaError` when this library cannot use the schema
    (see :func:`migrate`).  Usable from several threads (one call at a time);
    a context manager that closes the connection.
    """

    def __init__(self, url: Optional[str] = None, *,
                 check_schema: bool = True, connect_timeout: int = 0) -> None:
        self._s = _c.Store(url, check_schema, connect_timeout)

    # -- lifecycle --
    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._s.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def target(self) -> str:
        """Where the store is connected ("host:port/db"), no password."""
        return self._s.target()

    def __repr__(self) -> str:
        return f"<modelstore.Store {self.target or '(closed)'}>"

    # -- registry --
    def push(self, path_or_bytes: Source, *, name: str = "default",
             version: Optional[str] = None, run_id: Optional[str] = None,
             model_type: Optional[str] = None,
             metrics: Optional[Mapping[str, float]] = None,
             params: Optional[Mapping[str, Any]] = None,
             production: bool = False, reason: Optional[str] = None,
             compress: Union[bool, int] = False,
             extra: Optional[Mapping[str, Source]] = None) -> str:
        """Store a model (and ``extra`` artifacts), all or nothing.

        ``path_or_bytes``: a file path (streamed, never read whole) or a
        bytes-like object (not copied).  ``extra`` maps artifact names to
        paths or bytes.  ``metrics``: numbers; ``accuracy``, ``rmse`` and
        ``r2`` also fill the seed's score columns.  ``params``: any JSON
        values, types kept.  ``compress``: True (zlib level 1) or a level
        1-9.  ``production``: promote in the same transaction.  Returns the
        version (generated as YYYYMMDD_HHMMSS when ``version`` is None).
        Releases the GIL while the bytes travel.
        """
        sources: List[Tuple[Optional[str], Any]] = [
            (None, _source("path_or_bytes", path_or_bytes))]
        for k, v in (extra or {}).items():
            sources.append((k, _source(f"extra[{k!r}]", v)))
        cols: Dict[str, Optional[float]] = {k: None for k in _SEED_COLUMNS}
        rest: Dict[str, Any] = {}
        for k, v in (metrics or {}).items():
            if k in cols and isinstance(v, (int, float)) \
                    and not isinstance(v, bool):
                cols[k] = float(v)
            else:
                rest[k] = v
        level = 1 if compress is True else int(compress)
        return self._s.push(
            sources, name, version, run_id, model_type, cols["accuracy"],
            cols["rmse"], cols["r2"],
            _json_object("metrics", rest) if rest else None,
            _json_object("params", params), bool(production), reason, level)

    def pull(self, selector: str = "production", *, name: str = "default",
             artifact: Optional[str] = None,
             path: Optional[PathLike] = None) -> Union[bytes, Dict[str, Any]]:
        """Read an artifact, checked against its SHA-256 and size.

        ``selector``: "production", "latest" or a version.  Without
        ``path``, returns the bytes.  With ``path``, writes the file
        atomically (temporary file, fsync, rename; nothing appears on
        failure), replacing an existing one, and returns the metadata
        (as :meth:`show`).  Releases the GIL while reading.
        """
        if path is None:
            return self._s.pull(selector, name, artifact)
        return self._s.pull_file(selector, name, artifact, os.fspath(path),
                                 True)

    def show(self, selector: str = "production", *, name: str = "default",
             artifact: Optional[str] = None) -> Dict[str, Any]:
        """Metadata of one artifact: a dict with the keys of
        ``modelstore show --json``."""
        return self._s.show(selector, name, artifact)

    def list(self, name: Optional[str] = None, *, sort: Optional[str] = None,
             desc: bool = False, where: Optional[str] = None,
             limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """The primary artifact of each version, as dicts with the keys of
        ``modelstore list --json``; by name, then newest first.

        Sorted and filtered by the library, in one query
        (``ms_store_list_versions``), exactly as ``modelstore list
        --sort/--where``.  A version's value of a metric is its latest
        point in ``model_metrics`` (pushed with a run, or appended by
        ``modelstore runs log --version``), else the number in its
        metrics, else (accuracy, rmse, r2) the score column.

        ``sort``: a metric name; versions without it come last; ``desc``:
        highest first.  ``where``: conditions ``METRIC OP NUMBER`` (OP one
        of ``>= <= > < = !=``) joined by ``and``, e.g.
        ``"accuracy>=0.9 and rmse<3"``; a version without the metric fails
        the condition.  Parsed by the library, never spliced into SQL; a
        bad one raises :class:`InvalidArgument` naming the offset and the
        token.  ``limit``: at most this many rows (after filtering and
        sorting).
        """
        if limit is not None and limit < 0:
            raise InvalidArgument("limit must not be negative", _c.EINVAL)
        return self._s.list(name, sort, bool(desc), where, limit or 0)

    def promote(self, version: str, *, name: str = "default",
                reason: Optional[str] = None) -> None:
        """Make ``version`` the production model of ``name``."""
        self._s.promote(version, name, reason)

    def rollback(self, *, name: str = "default",
                 reason: Optional[str] = None) -> str:
        """Return production to the previous version; returns it."""
        return self._s.rollback(name, reason)

    def prune(self, keep: int, *, name: str = "default",
              dry_run: bool = False) -> List[str]:
        """Delete all but the ``keep`` newest versions (never production);
        returns the versions deleted (or that would be, with dry_run)."""
        if keep < 0:
            raise InvalidArgument("keep must not be negative", _c.EINVAL)
        return self._s.prune(name, keep, dry_run)

    def verify(self, name: Optional[str] = None) -> Dict[str, Any]:
        """Re-hash every artifact (of ``name``, or all) and compare with
        the recorded SHA-256.  Returns ``{"checked", "mismatched",
        "artifacts"}`` as ``modelstore verify --json`` does (each artifact
        with "status": "ok", "unverified" or "MISMATCH", "sha256",
        "actual_sha256", "message"); a mismatch is reported, not raised."""
        return self._s.verify(name)

    def export(self, selector: str = "production", *,
               name: str = "default", dir: PathLike = "models") -> Dict[str, Any]:
        """Write a version into a fallback tree (model.bin + model.json)."""
        return self._s.export(selector, name, os.fspath(dir))

    def record_actual(self, prediction_id: str, value: float) -> None:
        """Attach the observed value to a logged prediction."""
        self._s.record_actual(prediction_id, value)

    def record_actuals(self, pairs: Iterable[Tuple[str, float]], *,
                       batch_size: int = 5000) -> Dict[str, Any]:
        """Attach observed values to many predictions, one round trip per
        batch of ``batch_size`` pairs (``ms_store_record_actuals``: one
        COPY and one UPDATE, without the GIL).

        ``pairs``: (prediction id, value).  Returns, added up over the
        batches, what ``modelstore --json actuals`` prints: ``{"rows":
        pairs taken, "matched": predictions updated, "unmatched": ids no
        prediction has, "unmatched_ids": [those ids]}``.  An unknown id is
        reported there, not raised (its prediction may still be queued or
        spooled by a logger).  An id given twice in a batch takes its last
        value.

        Each batch is all or nothing and checked before it is sent: a bad
        id or a non-finite value raises :class:`InvalidArgument` naming
        the item, and that batch writes nothing.  Batches before it stay
        recorded (the message says how many rows).
        """
        if batch_size < 1:
            raise InvalidArgument("batch_size must be at least 1", _c.EINVAL)
        total: Dict[str, Any] = {"rows": 0, "matched": 0, "unmatched": 0,
                                 "unmatched_ids": []}
        ids: List[str] = []
        vals: List[float] = []
        start = 0

        def send() -> None:
            try:
                r = self._s.record_actuals(ids, vals)
            except Error as e:
                if start == 0:
                    raise
                # The library counts rows within the batch.
                raise type(e)(f"in the batch starting at item {start} "
                              f"({total['rows']} rows recorded before it):"
                              f" {e.message}", e.status) from None
            for k in ("rows", "matched", "unmatched"):
                total[k] += r[k]
            total["unmatched_ids"].extend(r["unmatched_ids"])

        for pid, value in pairs:
            ids.append(pid)
            vals.append(float(value))
            if len(ids) >= batch_size:
                send()
                start += len(ids)
                ids, vals = [], []
        if ids:
            send()
        return total

    # -- training runs --
    def start_run(self, *, name: str = "default",
                  run_id: Optional[str] = None,
                  params: Optional[Mapping[str, Any]] = None,
                  tags: Optional[Mapping[str, Any]] = None,
                  dataset_size: Optional[int] = None) -> "Run":
        """Start a training run (a ``model_runs`` row, status "running")
        and return it as a :class:`Run`, which is also a context manager::

            with store.start_run(name="churn", params={"depth": 6}) as run:
                for epoch in range(10):
                    run.log_metric("loss", loss, step=epoch)
                run.push("model.pkl", production=True)
            # finished; "failed" when the block raised, "killed" on Ctrl-C

        ``run_id``: None generates a UUIDv7; an existing id raises
        :class:`AlreadyExists`.  ``params`` and ``tags``: mappings of JSON
        values, types kept (100 stays an int, [64, 32] a list).
        ``dataset_size``: rows trained on.  The run uses this store's
        connection: the store must stay open while the run is used.
        """
        if dataset_size is None:
            size = -1
        elif isinstance(dataset_size, bool) or not isinstance(dataset_size,
                                                              int):
            raise TypeError("dataset_size must be an int, not "
                            f"{type(dataset_size).__name__}")
        elif dataset_size < 0:
            raise InvalidArgument("dataset_size must not be negative",
                                  _c.EINVAL)
        else:
            size = dataset_size
        params_json = _json_object("params", params)
        rid = self._s.run_start(name, run_id, params_json,
                                _json_object("tags", tags), size)
        return Run(self, rid, name,
                   json.loads(params_json) if params_json else {})

    def runs(self, name: Optional[str] = None, *,
             limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """The runs of ``name`` (None: every name), newest first, as
        ``modelstore --json runs list``: dicts with "run_id",
        "model_name", "status", "started_at", "ended_at",
        "duration_seconds", "dataset_size", "params", "tags", "metrics"
        (the last value of each) and "versions" (pushed with the run)."""
        if limit is not None and limit < 0:
            raise InvalidArgument("limit must not be negative", _c.EINVAL)
        return self._s.run_list(name, limit or 0)

    def run(self, run_id: str, *,
            metric: Optional[str] = None) -> Dict[str, Any]:
        """One run, as ``modelstore --json runs show``: the keys of
        :meth:`runs`, with each member of "metrics" a dict ``{"last",
        "count", "history": [{"step", "value", "recorded_at"}, ...]}``
        (history by step, points without a step last).  ``metric``: only
        that one.  Raises :class:`NotFound` for an unknown id."""
        return self._s.run_show(run_id, metric)

    def report(self, name: Optional[str] = None, *,
               since_days: Optional[int] = None) -> Dict[str, Any]:
        """The monitoring views as a dict: {"versions": [...],
        "promotions": [...]} (see ``ms_store_report`` in the header)."""
        return self._s.report(name, None if since_days is None
                              else str(int(since_days)))


# ---------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------

#: A point for :meth:`Run.log_metrics`: (key, value) or (key, value, step).
MetricPoint = Union[Tuple[str, float], Tuple[str, float, Optional[int]]]


class Run:
    """A training run started by :meth:`Store.start_run`.

    ``run.id`` is its id, ``run.name`` its model name, ``run.status``
    what this object last set ("running" until :meth:`finish`).  Every
    call goes through the store's connection with the GIL released, one
    at a time (the store's lock): a run may be used from several threads.

    As a context manager, leaving the block finishes the run: normally
    "finished", by an exception "failed", by KeyboardInterrupt "killed"
    (the exception still propagates; a run already finished by hand is
    left as it is).
    """

    def __init__(self, store: Store, run_id: str, name: str,
                 params: Dict[str, Any]) -> None:
        self._store = store
        self._s = store._s
        self.id = run_id
        self.name = name
        self.params = params
        self.status = "running"

    def log_metric(self, key: str, value: float,
                   step: Optional[int] = None) -> None:
        """Log one value (``step``: 0 or more, or None)."""
        self._s.run_log_metric(self.id, key, value, step)

    def log_metrics(self, metrics: Union[Mapping[str, float],
                                         Iterable[MetricPoint]],
                    step: Optional[int] = None) -> int:
        """Log many values in ONE round trip (``ms_run_log_metrics``: one
        statement, all or nothing); returns how many points.

        ``metrics``: a mapping ``{key: value}`` (all at ``step``), or an
        iterable of ``(key, value)`` / ``(key, value, step)``; a point's
        own step wins over ``step``.  Thousands of points per call are
        the intended use.  A bad point raises :class:`InvalidArgument`
        (or TypeError) naming it, and nothing is written.
        """
        if isinstance(metrics, Mapping):
            points = [(k, v, step) for k, v in metrics.items()]
        else:
            points = []
            for p in metrics:
                if len(p) == 2:
                    points.append((p[0], p[1], step))
                elif len(p) == 3:
                    points.append((p[0], p[1], step if p[2] is None
                                   else p[2]))
                else:
                    raise TypeError(f"point {len(points)}: expected (key, "
                                    f"value) or (key, value, step), got "
                                    f"{len(p)} items")
        return self._s.run_log_metrics(self.id, points)

    def push(self, path_or_bytes: Source, *, version: Optional[str] = None,
             model_type: Optional[str] = None,
             metrics: Optional[Mapping[str, float]] = None,
             params: Optional[Mapping[str, Any]] = None,
             production: bool = False, reason: Optional[str] = None,
             compress: Union[bool, int] = False,
             extra: Optional[Mapping[str, Source]] = None) -> str:
        """:meth:`Store.push` under the run's name and id: the version
        belongs to the run (it appears in the run's "versions").
        ``params`` default to the run's params, stored with the
        artifact.  Returns the version."""
        return self._store.push(
            path_or_bytes, name=self.name, version=version, run_id=self.id,
            model_type=model_type, metrics=metrics,
            params=self.params if params is None else params,
            production=production, reason=reason, compress=compress,
            extra=extra)

    def finish(self, status: str = "finished") -> None:
        """End the run: "finished", "failed" or "killed".  A run that has
        already ended raises :class:`InvalidArgument` naming its status."""
        self._s.run_finish(self.id, status)
        self.status = status

    def info(self) -> Dict[str, Any]:
        """:meth:`Store.run` of this run (status, metric history, ...)."""
        return self._store.run(self.id)

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.status != "running":
            return
        if exc_type is None:
            self.finish("finished")
            return
        status = ("killed" if issubclass(exc_type, KeyboardInterrupt)
                  else "failed")
        try:
            self.finish(status)
        except Error as e:
            # The block's own exception matters more: it propagates.
            if exc is not None and hasattr(exc, "add_note"):
                exc.add_note(f"modelstore: run {self.id} could not be "
                             f"marked {status}: {e}")

    def __repr__(self) -> str:
        return f"<modelstore.Run {self.id} {self.name} {self.status}>"


# ---------------------------------------------------------------------
# Loader
# ---------------------------------------------------------------------

class Loader:
    """Models for inference: cache, filesystem fallback, hot reload.

    ``Loader(url=None, fallback_dir="models", watch=True)``: with
    ``watch`` a background thread LISTENs for promotions and swaps the
    cached production model.  Does not need the database to be up.
    Thread-safe; a context manager.
    """

    def __init__(self, url: Optional[str] = None,
                 fallback_dir: PathLike = "models", watch: bool = True, *,
                 cache_bytes: int = 0, refresh_fallback: bool = False,
                 connect_timeout: int = 0) -> None:
        self._l = _c.Loader(url, os.fspath(fallback_dir), bool(watch),
                            cache_bytes, bool(refresh_fallback),
                            connect_timeout)
        self._get = self._l.get

    def get(self, name: str = "default",
            selector: str = "production") -> Model:
        """The model (a :class:`Model`): a cached hit copies nothing and
        takes a reference; a miss loads from the database (or the fallback
        directory when it is down) without the GIL.  ``memoryview(model)``
        is read-only and points at the library's bytes."""
        return self._get(name, selector)

    def preload(self) -> int:
        """Load every production model; returns how many names."""
        return self._l.preload()

    def stats(self) -> Dict[str, int]:
        """Counters: hits, misses, db_loads, fallback_loads, reloads,
        bytes_cached, entries, integrity_failures, outages."""
        return self._l.stats()

    def last_error(self) -> str:
        """The last message recorded by any of the loader's threads."""
        return self._l.last_error()

    def close(self) -> None:
        """Stop the watcher and drop the cache; Models handed out (and
        their views) stay valid.  Waits for calls in progress."""
        self._l.close()

    def __enter__(self) -> "Loader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---------------------------------------------------------------------
# PredictionLogger
# ---------------------------------------------------------------------

_encode = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


class PredictionLogger:
    """Asynchronous prediction logging into ``model_predictions``.

    ``log()`` queues a row (never touches the network); a writer thread
    sends batches with binary COPY, and spools to ``spool_dir`` while the
    database is down (replayed later).  Thread-safe; a context manager
    whose exit closes (flushes) the logger.
    """

    def __init__(self, url: Optional[str] = None,
                 spool_dir: PathLike = "spool", *, queue_capacity: int = 0,
                 batch_size: int = 0, flush_interval_ms: int = 0,
                 connect_timeout: int = 0) -> None:
        self._p = _c.PredictionLogger(url, os.fspath(spool_dir),
                                      queue_capacity, batch_size,
                                      flush_interval_ms, connect_timeout)
        self._log = self._p.log

    def log(self, version: str, features: Union[Mapping[str, Any], str],
            predicted: float, *, confidence: Optional[float] = None,
            actual: Optional[float] = None, name: str = "default") -> str:
        """Queue one prediction; returns its id (a UUIDv7).

        ``features``: a dict (encoded as JSON) or a JSON object as text.
        Raises :class:`InvalidArgument` for an invalid version, name or
        features, :class:`Full` when queue and spool are full.
        """
        if not isinstance(features, str):
            try:
                features = _encode(features)
            except (TypeError, ValueError) as e:
                raise InvalidArgument(f"features: {e}", _c.EINVAL) from None
        return self._log(version, features, predicted, confidence, actual,
                         name)

    def flush(self, timeout: Optional[float] = None) -> None:
        """Wait until everything logged so far is written or spooled.

        ``timeout`` in seconds; raises :class:`Timeout` when it passes.
        ``None`` waits as long as it takes (Ctrl-C still interrupts).
        Releases the GIL while waiting.
        """
        if timeout is None:
            while True:
                try:
                    self._p.flush(1000)
                    return
                except Timeout:
                    continue
        if timeout < 0:
            raise InvalidArgument("timeout must not be negative", _c.EINVAL)
        self._p.flush(int(timeout * 1000))

    def stats(self) -> Dict[str, int]:
        """Counters: accepted, written, spooled, replayed, rejected,
        dropped_full, spool_corrupt, batches, retries."""
        return self._p.stats()

    def last_error(self) -> str:
        """The last message recorded by any of the logger's threads."""
        return self._p.last_error()

    def close(self) -> None:
        """Flush, spool what cannot be written, stop the writer.  Raises
        :class:`Full` when rows were dropped.  Idempotent."""
        self._p.close()

    def __enter__(self) -> "PredictionLogger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
