/*
 * _modelstore.c - the CPython extension under the `modelstore` package.
 *
 * A thin, compiler-checked binding of lib/include/modelstore.h: every
 * struct shared with the library (options, artifact info, stats) is the
 * header's own, so a changed layout is a compile error here, not a silent
 * mismatch.  The pure-Python layer (modelstore/__init__.py) adds the
 * keyword arguments, docstrings, type hints and exception classes.
 *
 * Threading:
 *   - Every call that may touch the network or the disk releases the GIL.
 *   - An ms_store is one-thread-at-a-time, so each Store object carries a
 *     lock taken (with the GIL released) around every library call; the
 *     store's borrowed error message is copied before the lock is let go.
 *     Runs (ms_run_*) are Store methods taking the run id: a Python Run
 *     goes through its Store, under the same lock.
 *   - Arguments are converted to C (strings, points, actuals) with the
 *     GIL held, from objects the Python layer built for the call and
 *     never shares, so their buffers hold while the GIL is released.
 *   - ms_loader_get and ms_predlog_log are thread-safe, but their _close
 *     is not: a read-write lock lets any number of calls run together and
 *     makes close() wait for them.
 *   - No library callback ever needs the GIL (verify results are gathered
 *     in C and converted afterwards).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "modelstore.h"

#define ERRMSG_MAX 2048

/* Exception classes by status, registered by modelstore/__init__.py. */
#define N_STATUS 16
static PyObject *status_exc[N_STATUS];
static PyObject *json_loads; /* json.loads */

static PyObject *raise_status(ms_status st, const char *msg)
{
	PyObject *cls = NULL, *text, *exc;

	if ((unsigned)st < N_STATUS && status_exc[st])
		cls = status_exc[st];
	else if (status_exc[MS_ERROR])
		cls = status_exc[MS_ERROR];
	if (msg == NULL || msg[0] == '\0')
		msg = ms_status_str(st);
	if (cls == NULL) {
		PyErr_Format(PyExc_RuntimeError, "modelstore: %s", msg);
		return NULL;
	}
	text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
	if (text == NULL)
		return NULL;
	exc = PyObject_CallFunction(cls, "Oi", text, (int)st);
	Py_DECREF(text);
	if (exc == NULL)
		return NULL;
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
	return NULL;
}

static PyObject *raise_closed(const char *what)
{
	char msg[64];
	snprintf(msg, sizeof msg, "%s is closed", what);
	return raise_status(MS_EINVAL, msg);
}

static PyObject *str_or_none(const char *s)
{
	if (s == NULL || s[0] == '\0')
		Py_RETURN_NONE;
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

static PyObject *str_of(const char *s)
{
	if (s == NULL)
		s = "";
	return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

static PyObject *num_or_none(double v)
{
	if (isnan(v))
		Py_RETURN_NONE;
	return PyFloat_FromDouble(v);
}

/* json.loads(text), {} for NULL or "" */
static PyObject *parse_json(const char *text)
{
	if (text == NULL || text[0] == '\0')
		return PyDict_New();
	return PyObject_CallFunction(json_loads, "s", text);
}

/* An optional float argument: None gives NAN. */
static int opt_double(PyObject *o, double *out)
{
	if (o == NULL || o == Py_None) {
		*out = NAN;
		return 0;
	}
	*out = PyFloat_AsDouble(o);
	if (*out == -1.0 && PyErr_Occurred())
		return -1;
	return 0;
}

/* dict set that steals @v; -1 on failure (v NULL included). */
static int set_item(PyObject *d, const char *k, PyObject *v)
{
	int rc;
	if (v == NULL)
		return -1;
	rc = PyDict_SetItemString(d, k, v);
	Py_DECREF(v);
	return rc;
}

/* The keys and types of `modelstore list --json` (cli/util.c). */
static PyObject *info_dict(const ms_artifact_info *i)
{
	PyObject *d = PyDict_New();
	if (d == NULL)
		return NULL;
	if (set_item(d, "id", PyLong_FromLongLong(i->id)) < 0 ||
	    set_item(d, "model_name", str_of(i->model_name)) < 0 ||
	    set_item(d, "model_version", str_of(i->model_version)) < 0 ||
	    set_item(d, "artifact", str_of(i->artifact)) < 0 ||
	    set_item(d, "run_id", str_of(i->run_id)) < 0 ||
	    set_item(d, "model_type", str_of(i->model_type)) < 0 ||
	    set_item(d, "model_size_bytes", PyLong_FromLongLong(i->size)) < 0 ||
	    set_item(d, "stored_size_bytes",
	             PyLong_FromLongLong(i->stored_size)) < 0 ||
	    set_item(d, "compression", str_of(i->compression)) < 0 ||
	    set_item(d, "chunk_count", PyLong_FromLong(i->chunk_count)) < 0 ||
	    set_item(d, "sha256", str_or_none(i->sha256)) < 0 ||
	    set_item(d, "is_production", PyBool_FromLong(i->is_production)) < 0 ||
	    set_item(d, "accuracy_score", num_or_none(i->accuracy)) < 0 ||
	    set_item(d, "rmse_score", num_or_none(i->rmse)) < 0 ||
	    set_item(d, "r2_score", num_or_none(i->r2)) < 0 ||
	    set_item(d, "metrics", parse_json(i->metrics_json)) < 0 ||
	    set_item(d, "params", parse_json(i->params_json)) < 0 ||
	    set_item(d, "created_at", str_of(i->created_at)) < 0) {
		Py_DECREF(d);
		return NULL;
	}
	return d;
}

/* ------------------------------------------------------------------ */
/* Store                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	ms_store *s;
	PyThread_type_lock lock;
} StoreObject;

/* Run @body with the GIL released and the store's lock held; @closed is
 * set when the store was closed (then @body does not run).  @body must
 * copy ms_store_errmsg() into @err before the lock is released. */
#define WITH_STORE(self, closed, body)                                  \
	do {                                                            \
		Py_BEGIN_ALLOW_THREADS                                  \
		PyThread_acquire_lock((self)->lock, WAIT_LOCK);         \
		(closed) = (self)->s == NULL;                           \
		if (!(closed)) {                                        \
			body                                            \
		}                                                       \
		PyThread_release_lock((self)->lock);                    \
		Py_END_ALLOW_THREADS                                    \
	} while (0)

static void copy_err(char err[ERRMSG_MAX], ms_store *s, ms_status st)
{
	if (st == MS_OK)
		err[0] = '\0';
	else
		snprintf(err, ERRMSG_MAX, "%s", ms_store_errmsg(s));
}

static PyObject *Store_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	StoreObject *self;
	(void)args;
	(void)kw;
	self = (StoreObject *)type->tp_alloc(type, 0);
	if (self == NULL)
		return NULL;
	self->lock = PyThread_allocate_lock();
	if (self->lock == NULL) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	return (PyObject *)self;
}

static int Store_init(StoreObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "url", "check_schema", "connect_timeout",
	                          NULL };
	const char *url = NULL;
	int check = 1, timeout = 0;
	ms_store_options o = MS_STORE_OPTIONS_INIT;
	ms_store *s = NULL;
	ms_status st;
	char err[ERRMSG_MAX];

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|zpi", kwlist, &url,
	                                 &check, &timeout))
		return -1;
	if (self->s != NULL) {
		PyErr_SetString(PyExc_RuntimeError, "Store already open");
		return -1;
	}
	o.check_schema = check;
	o.connect_timeout = timeout;
	Py_BEGIN_ALLOW_THREADS
	st = ms_store_open(&s, url, &o);
	copy_err(err, s, st);
	if (st != MS_OK) {
		ms_store_close(s);
		s = NULL;
	}
	Py_END_ALLOW_THREADS
	if (st != MS_OK) {
		raise_status(st, err);
		return -1;
	}
	self->s = s;
	return 0;
}

static void Store_dealloc(StoreObject *self)
{
	if (self->s) {
		Py_BEGIN_ALLOW_THREADS
		ms_store_close(self->s);
		Py_END_ALLOW_THREADS
	}
	if (self->lock)
		PyThread_free_lock(self->lock);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Store_close(StoreObject *self, PyObject *unused)
{
	(void)unused;
	Py_BEGIN_ALLOW_THREADS
	PyThread_acquire_lock(self->lock, WAIT_LOCK);
	ms_store_close(self->s);
	self->s = NULL;
	PyThread_release_lock(self->lock);
	Py_END_ALLOW_THREADS
	Py_RETURN_NONE;
}

static PyObject *Store_target(StoreObject *self, PyObject *unused)
{
	char t[512] = "";
	(void)unused;
	Py_BEGIN_ALLOW_THREADS /* the lock may be held by a long push */
	PyThread_acquire_lock(self->lock, WAIT_LOCK);
	if (self->s)
		snprintf(t, sizeof t, "%s", ms_store_target(self->s));
	PyThread_release_lock(self->lock);
	Py_END_ALLOW_THREADS
	return str_of(t);
}

/* One artifact source held for the duration of a push. */
typedef struct {
	PyObject *path; /* bytes from PyUnicode_FSConverter, or NULL */
	Py_buffer view; /* when path is NULL */
	int has_view;
} held_source;

static void release_sources(held_source *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		Py_XDECREF(h[i].path);
		if (h[i].has_view)
			PyBuffer_Release(&h[i].view);
	}
	PyMem_Free(h);
}

/*
 * push(sources, name, version, run_id, model_type, accuracy, rmse, r2,
 *      metrics_json, params_json, production, reason, compress)
 * sources: a sequence of (artifact name or None, str/PathLike path or a
 * bytes-like object).  Returns the version.
 */
static PyObject *Store_push(StoreObject *self, PyObject *args)
{
	PyObject *sources, *seq = NULL, *acc_o, *rmse_o, *r2_o, *res = NULL;
	const char *name, *version, *run_id, *type, *metrics, *params, *reason;
	int production, compress, closed;
	double acc, rmse, r2;
	ms_push_options o = MS_PUSH_OPTIONS_INIT;
	ms_artifact_source *src = NULL;
	held_source *held = NULL;
	Py_ssize_t n = 0;
	ms_buf ver = MS_BUF_INIT;
	ms_status st = MS_OK;
	char err[ERRMSG_MAX];

	if (!PyArg_ParseTuple(args, "OzzzzOOOzzpzi:push", &sources, &name,
	                      &version, &run_id, &type, &acc_o, &rmse_o, &r2_o,
	                      &metrics, &params, &production, &reason,
	                      &compress))
		return NULL;
	/* None is "absent"; any float, NAN included, goes to the library,
	 * which refuses a non-finite one. */
	if (opt_double(acc_o, &acc) < 0 || opt_double(rmse_o, &rmse) < 0 ||
	    opt_double(r2_o, &r2) < 0)
		return NULL;
	seq = PySequence_Fast(sources, "push: sources must be a sequence");
	if (seq == NULL)
		return NULL;
	n = PySequence_Fast_GET_SIZE(seq);
	src = PyMem_Calloc(n ? (size_t)n : 1, sizeof *src);
	held = PyMem_Calloc(n ? (size_t)n : 1, sizeof *held);
	if (src == NULL || held == NULL) {
		PyErr_NoMemory();
		goto out;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *item = PySequence_Fast_GET_ITEM(seq, i), *aname, *data;
		if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
			PyErr_SetString(PyExc_TypeError,
			                "push: each source is (name, path or bytes)");
			goto out;
		}
		aname = PyTuple_GET_ITEM(item, 0);
		data = PyTuple_GET_ITEM(item, 1);
		if (aname != Py_None) {
			src[i].name = PyUnicode_AsUTF8(aname);
			if (src[i].name == NULL)
				goto out;
		}
		if (PyUnicode_Check(data) || PyObject_HasAttrString(data,
		                                                    "__fspath__")) {
			if (!PyUnicode_FSConverter(data, &held[i].path))
				goto out;
			src[i].path = PyBytes_AS_STRING(held[i].path);
		} else {
			if (PyObject_GetBuffer(data, &held[i].view,
			                       PyBUF_SIMPLE) < 0)
				goto out;
			held[i].has_view = 1;
			src[i].data = held[i].view.buf;
			src[i].size = (uint64_t)held[i].view.len;
		}
	}
	o.model_name = name;
	o.model_version = version;
	o.run_id = run_id;
	o.model_type = type;
	o.accuracy = acc_o == Py_None ? NULL : &acc;
	o.rmse = rmse_o == Py_None ? NULL : &rmse;
	o.r2 = r2_o == Py_None ? NULL : &r2;
	o.metrics_json = metrics;
	o.params_json = params;
	o.production = production;
	o.compress_level = compress;
	o.reason = reason;
	WITH_STORE(self, closed, {
		st = ms_store_push(&ver, self->s, &o, src, (size_t)n);
		copy_err(err, self->s, st);
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else
		res = str_of(ver.ptr);
out:
	ms_buf_dispose(&ver);
	if (held)
		release_sources(held, (size_t)n);
	PyMem_Free(src);
	Py_XDECREF(seq);
	return res;
}

/* show(selector, name, artifact): the artifact's metadata plus
 * "metric_history" (ms_store_version_metrics of the version shown, not of
 * the selector, which may have moved since), as `modelstore --json show`. */
static PyObject *Store_show(StoreObject *self, PyObject *args)
{
	const char *name, *sel, *artifact;
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	ms_buf hist = MS_BUF_INIT;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];
	PyObject *res = NULL, *doc = NULL, *metrics;

	if (!PyArg_ParseTuple(args, "zzz:show", &sel, &name, &artifact))
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_store_show(&info, self->s, name, sel, artifact);
		if (st == MS_OK)
			st = ms_store_version_metrics(&hist, self->s, name,
			                              info.model_version);
		copy_err(err, self->s, st);
	});
	if (closed) {
		raise_closed("Store");
	} else if (st != MS_OK) {
		raise_status(st, err);
	} else if ((doc = parse_json(hist.ptr)) != NULL &&
	           (res = info_dict(&info)) != NULL) {
		metrics = PyDict_Check(doc) ? PyDict_GetItemString(doc, "metrics")
		                            : NULL;
		if (metrics == NULL)
			metrics = Py_None;
		if (PyDict_SetItemString(res, "metric_history", metrics) < 0)
			Py_CLEAR(res);
	}
	Py_XDECREF(doc);
	ms_buf_dispose(&hist);
	ms_artifact_info_dispose(&info);
	return res;
}

/* Ask for transparent huge pages on the page-aligned interior of a large
 * fresh buffer (as the loader does for models): a 200 MB pull then takes
 * ~100 page faults instead of ~51 000.  Best effort. */
static void advise_hugepages(void *buf, size_t len)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t a = ((uintptr_t)buf + huge - 1) & ~(huge - 1);
	uintptr_t e = ((uintptr_t)buf + len) & ~(huge - 1);
	if (len >= (8u << 20) && e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
	(void)buf;
	(void)len;
#endif
}

/* Pull into memory: a bytes object of the size show() reports, filled in
 * place; a growing buffer when the row records no size. */
typedef struct {
	char *buf;
	size_t len, cap;
	int fixed; /* buf is a bytes object's storage: never grow it */
	int overflow; /* more bytes came than the row records */
} pull_sink;

static ms_status sink_write(void *p, const void *data, size_t len)
{
	pull_sink *k = p;
	if (k->len + len > k->cap) {
		size_t cap = k->cap ? k->cap : 1 << 20;
		char *nb;
		if (k->fixed) {
			k->overflow = 1;
			return MS_EINTEGRITY;
		}
		while (cap < k->len + len)
			cap *= 2;
		nb = PyMem_RawRealloc(k->buf, cap);
		if (nb == NULL)
			return MS_ENOMEM;
		k->buf = nb;
		k->cap = cap;
	}
	memcpy(k->buf + k->len, data, len);
	k->len += len;
	return MS_OK;
}

static PyObject *Store_pull(StoreObject *self, PyObject *args)
{
	const char *name, *sel, *artifact;
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];
	PyObject *bytes = NULL, *res = NULL;
	pull_sink k = { NULL, 0, 0, 0, 0 };

	if (!PyArg_ParseTuple(args, "zzz:pull", &sel, &name, &artifact))
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_store_show(&info, self->s, name, sel, artifact);
		copy_err(err, self->s, st);
	});
	if (closed)
		return raise_closed("Store");
	if (st != MS_OK) {
		ms_artifact_info_dispose(&info);
		return raise_status(st, err);
	}
	if (info.size >= 0) {
		bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)info.size);
		if (bytes == NULL) {
			ms_artifact_info_dispose(&info);
			return NULL;
		}
		/* Not shared with anyone yet: filled without the GIL. */
		k.buf = PyBytes_AS_STRING(bytes);
		k.cap = (size_t)info.size;
		k.fixed = 1;
		advise_hugepages(k.buf, k.cap);
	}
	WITH_STORE(self, closed, {
		st = ms_store_pull(&info, self->s, name, sel, artifact,
		                   sink_write, &k, NULL, NULL);
		copy_err(err, self->s, st);
		if ((st == MS_OK && k.fixed && k.len != k.cap) ||
		    k.overflow) {
			st = MS_EINTEGRITY;
			snprintf(err, ERRMSG_MAX, "artifact changed size while "
			         "being read (%zu bytes recorded)", k.cap);
		}
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else if (k.fixed)
		res = Py_NewRef(bytes);
	else
		res = PyBytes_FromStringAndSize(k.buf ? k.buf : "",
		                                (Py_ssize_t)k.len);
	Py_XDECREF(bytes);
	if (!k.fixed)
		PyMem_RawFree(k.buf);
	ms_artifact_info_dispose(&info);
	return res;
}

static PyObject *Store_pull_file(StoreObject *self, PyObject *args)
{
	const char *name, *sel, *artifact;
	PyObject *path_o = NULL, *res = NULL;
	int overwrite, closed;
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	ms_status st = MS_OK;
	char err[ERRMSG_MAX];

	if (!PyArg_ParseTuple(args, "zzzO&p:pull_file", &sel, &name, &artifact,
	                      PyUnicode_FSConverter, &path_o, &overwrite))
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_store_pull_file(&info, self->s, name, sel, artifact,
		                        PyBytes_AS_STRING(path_o), overwrite,
		                        NULL, NULL);
		copy_err(err, self->s, st);
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else
		res = info_dict(&info);
	ms_artifact_info_dispose(&info);
	Py_DECREF(path_o);
	return res;
}

/* list(name, sort, desc, where, limit): ms_store_list_versions, which
 * parses @where itself (never spliced into SQL) and names the offset and
 * token of a bad one. */
static PyObject *Store_list(StoreObject *self, PyObject *args)
{
	const char *name, *sort, *where;
	int desc, closed;
	Py_ssize_t limit;
	ms_list_options o = MS_LIST_OPTIONS_INIT;
	ms_artifact_list *list = NULL;
	ms_status st = MS_OK;
	char err[ERRMSG_MAX];
	PyObject *res;
	size_t n;

	if (!PyArg_ParseTuple(args, "zzpzn:list", &name, &sort, &desc, &where,
	                      &limit))
		return NULL;
	if (limit < 0)
		return raise_status(MS_EINVAL, "limit must not be negative");
	o.model_name = name;
	o.sort = sort;
	o.descending = desc;
	o.where = where;
	o.limit = (size_t)limit;
	WITH_STORE(self, closed, {
		st = ms_store_list_versions(&list, self->s, &o);
		copy_err(err, self->s, st);
	});
	if (closed)
		return raise_closed("Store");
	if (st != MS_OK)
		return raise_status(st, err);
	n = ms_artifact_list_count(list);
	res = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; res != NULL && i < n; i++) {
		PyObject *d = info_dict(ms_artifact_list_get(list, i));
		if (d == NULL)
			Py_CLEAR(res);
		else
			PyList_SET_ITEM(res, (Py_ssize_t)i, d);
	}
	ms_artifact_list_free(list);
	return res;
}

static PyObject *Store_promote(StoreObject *self, PyObject *args)
{
	const char *name, *version, *reason;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];

	if (!PyArg_ParseTuple(args, "zzz:promote", &version, &name, &reason))
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_store_promote(self->s, name, version, reason);
		copy_err(err, self->s, st);
	});
	if (closed)
		return raise_closed("Store");
	if (st != MS_OK)
		return raise_status(st, err);
	Py_RETURN_NONE;
}

static PyObject *Store_rollback(StoreObject *self, PyObject *args)
{
	const char *name, *reason;
	ms_buf ver = MS_BUF_INIT;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];
	PyObject *res = NULL;

	if (!PyArg_ParseTuple(args, "zz:rollback", &name, &reason))
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_store_rollback(&ver, self->s, name, reason);
		copy_err(err, self->s, st);
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else
		res = str_of(ver.ptr);
	ms_buf_dispose(&ver);
	return res;
}

static PyObject *Store_prune(StoreObject *self, PyObject *args)
{
	const char *name;
	unsigned int keep;
	int dry, closed;
	ms_buf out = MS_BUF_INIT;
	ms_status st = MS_OK;
	char err[ERRMSG_MAX];
	PyObject *res = NULL;

	if (!PyArg_ParseTuple(args, "zIp:prune", &name, &keep, &dry))
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_store_prune(&out, self->s, name, keep, dry);
		copy_err(err, self->s, st);
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else
		res = PyObject_CallFunction(json_loads, "s",
		                            out.ptr ? out.ptr : "[]");
	ms_buf_dispose(&out);
	return res;
}

/* verify: one entry per artifact, gathered without the GIL. */
typedef struct {
	char model_name[MS_NAME_MAX + 1];
	char model_version[MS_VERSION_MAX + 1];
	char artifact[MS_NAME_MAX + 1];
	char sha256[65], actual[65];
	ms_status result;
	char message[256];
} verify_entry;

typedef struct {
	verify_entry *v;
	size_t n, cap;
	ms_store *s;
	int oom;
} verify_acc;

static void verify_cb(void *p, const ms_artifact_info *info, ms_status r,
                      const char *actual)
{
	verify_acc *a = p;
	verify_entry *e;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		verify_entry *nv = PyMem_RawRealloc(a->v, cap * sizeof *nv);
		if (nv == NULL) {
			a->oom = 1;
			return;
		}
		a->v = nv;
		a->cap = cap;
	}
	e = &a->v[a->n++];
	snprintf(e->model_name, sizeof e->model_name, "%s", info->model_name);
	snprintf(e->model_version, sizeof e->model_version, "%s",
	         info->model_version);
	snprintf(e->artifact, sizeof e->artifact, "%s", info->artifact);
	snprintf(e->sha256, sizeof e->sha256, "%s", info->sha256);
	snprintf(e->actual, sizeof e->actual, "%s", actual ? actual : "");
	e->result = r;
	snprintf(e->message, sizeof e->message, "%s",
	         r == MS_OK ? "" : ms_store_errmsg(a->s));
}

static PyObject *Store_verify(StoreObject *self, PyObject *args)
{
	const char *name;
	size_t checked = 0, bad = 0;
	verify_acc a = { NULL, 0, 0, NULL, 0 };
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];
	PyObject *res = NULL, *list = NULL;

	if (!PyArg_ParseTuple(args, "z:verify", &name))
		return NULL;
	WITH_STORE(self, closed, {
		a.s = self->s;
		st = ms_store_verify(&checked, &bad, self->s, name, verify_cb,
		                     &a);
		copy_err(err, self->s, st);
	});
	if (closed) {
		raise_closed("Store");
		goto out;
	}
	if (a.oom) {
		PyErr_NoMemory();
		goto out;
	}
	if (st != MS_OK && st != MS_EINTEGRITY) {
		raise_status(st, err);
		goto out;
	}
	list = PyList_New((Py_ssize_t)a.n);
	for (size_t i = 0; list != NULL && i < a.n; i++) {
		const verify_entry *e = &a.v[i];
		const char *state = e->result == MS_OK
			? (e->sha256[0] ? "ok" : "unverified") : "MISMATCH";
		PyObject *d = Py_BuildValue(
			"{s:N,s:N,s:N,s:s,s:N,s:N,s:N}", "model_name",
			str_of(e->model_name), "model_version",
			str_of(e->model_version), "artifact", str_of(e->artifact),
			"status", state, "sha256", str_or_none(e->sha256),
			"actual_sha256", str_or_none(e->actual), "message",
			str_or_none(e->message));
		if (d == NULL)
			Py_CLEAR(list);
		else
			PyList_SET_ITEM(list, (Py_ssize_t)i, d);
	}
	if (list != NULL)
		res = Py_BuildValue("{s:n,s:n,s:N}", "checked", (Py_ssize_t)checked,
		                    "mismatched", (Py_ssize_t)bad, "artifacts",
		                    list);
out:
	PyMem_RawFree(a.v);
	return res;
}

static PyObject *Store_record_actual(StoreObject *self, PyObject *args)
{
	const char *id;
	double v;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];

	if (!PyArg_ParseTuple(args, "sd:record_actual", &id, &v))
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_store_record_actual(self->s, id, v);
		copy_err(err, self->s, st);
	});
	if (closed)
		return raise_closed("Store");
	if (st != MS_OK)
		return raise_status(st, err);
	Py_RETURN_NONE;
}

/* The "\n"-terminated ids of an ms_actuals_result as a list of str. */
static PyObject *id_lines(const char *p)
{
	PyObject *list = PyList_New(0);
	const char *nl;
	while (list != NULL && p != NULL && (nl = strchr(p, '\n')) != NULL) {
		PyObject *s = PyUnicode_DecodeUTF8(p, nl - p, "replace");
		if (s == NULL || PyList_Append(list, s) < 0)
			Py_CLEAR(list);
		Py_XDECREF(s);
		p = nl + 1;
	}
	return list;
}

/*
 * record_actuals(ids, values): two lists of equal length (str, float),
 * one ms_store_record_actuals() call (one COPY and one UPDATE per
 * 100 000 rows), without the GIL.  Returns {"rows", "matched",
 * "unmatched", "unmatched_ids"} as `modelstore --json actuals`; ids no
 * prediction has are reported there, not raised.
 */
static PyObject *Store_record_actuals(StoreObject *self, PyObject *args)
{
	PyObject *ids, *vals, *unmatched;
	ms_actual *rows = NULL;
	ms_actuals_result r = MS_ACTUALS_RESULT_INIT;
	Py_ssize_t n;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];
	PyObject *res = NULL;

	if (!PyArg_ParseTuple(args, "O!O!:record_actuals", &PyList_Type, &ids,
	                      &PyList_Type, &vals))
		return NULL;
	n = PyList_GET_SIZE(ids);
	if (PyList_GET_SIZE(vals) != n)
		return raise_status(MS_EINVAL, "ids and values differ in length");
	rows = PyMem_Calloc(n ? (size_t)n : 1, sizeof *rows);
	if (rows == NULL)
		return PyErr_NoMemory();
	/* The lists are ours (built by the Python layer) and are not
	 * changed while the GIL is released, so the UTF-8 pointers hold. */
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *id = PyList_GET_ITEM(ids, i);
		if (!PyUnicode_Check(id)) {
			PyErr_Format(PyExc_TypeError, "item %zd: the prediction "
			             "id must be str, not %.50s", i,
			             Py_TYPE(id)->tp_name);
			goto out;
		}
		rows[i].prediction_id = PyUnicode_AsUTF8(id);
		if (rows[i].prediction_id == NULL)
			goto out;
		rows[i].value = PyFloat_AsDouble(PyList_GET_ITEM(vals, i));
		if (rows[i].value == -1.0 && PyErr_Occurred())
			goto out;
	}
	WITH_STORE(self, closed, {
		st = ms_store_record_actuals(self->s, rows, (size_t)n, &r);
		copy_err(err, self->s, st);
	});
	if (closed) {
		raise_closed("Store");
	} else if (st != MS_OK) {
		raise_status(st, err);
	} else if ((unmatched = id_lines(r.unmatched_ids.ptr)) != NULL) {
		res = Py_BuildValue("{s:K,s:K,s:K,s:N}", "rows",
		                    (unsigned long long)r.rows, "matched",
		                    (unsigned long long)r.matched, "unmatched",
		                    (unsigned long long)r.unmatched,
		                    "unmatched_ids", unmatched);
	}
out:
	ms_actuals_result_dispose(&r);
	PyMem_Free(rows);
	return res;
}

static PyObject *Store_report(StoreObject *self, PyObject *args)
{
	const char *name, *since;
	ms_buf out = MS_BUF_INIT;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];
	PyObject *res = NULL;

	if (!PyArg_ParseTuple(args, "zz:report", &name, &since))
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_store_report(&out, self->s, name, since);
		copy_err(err, self->s, st);
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else
		res = PyObject_CallFunction(json_loads, "s", out.ptr);
	ms_buf_dispose(&out);
	return res;
}

static PyObject *Store_export(StoreObject *self, PyObject *args)
{
	const char *name, *sel;
	PyObject *dir_o = NULL, *res = NULL;
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];

	if (!PyArg_ParseTuple(args, "zzO&:export", &sel, &name,
	                      PyUnicode_FSConverter, &dir_o))
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_store_export(&info, self->s, name, sel,
		                     PyBytes_AS_STRING(dir_o), NULL, NULL);
		copy_err(err, self->s, st);
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else
		res = info_dict(&info);
	ms_artifact_info_dispose(&info);
	Py_DECREF(dir_o);
	return res;
}

/* ------------------------------------------------------------------ */
/* Runs (ms_run_*), on the store's connection and lock                 */
/* ------------------------------------------------------------------ */

/* A step: None is MS_STEP_NONE; else an integer (int, or anything with
 * __index__ such as numpy.int64), 0 or more.  -1 with an exception set
 * on failure (@i names the point, -1: no index). */
static int step_of(PyObject *o, int64_t *out, Py_ssize_t i)
{
	PyObject *n;
	long long v;
	if (o == NULL || o == Py_None) {
		*out = MS_STEP_NONE;
		return 0;
	}
	if (!PyIndex_Check(o)) {
		if (i < 0)
			PyErr_Format(PyExc_TypeError, "step must be an int or "
			             "None, not %.50s", Py_TYPE(o)->tp_name);
		else
			PyErr_Format(PyExc_TypeError, "point %zd: step must be "
			             "an int or None, not %.50s", i,
			             Py_TYPE(o)->tp_name);
		return -1;
	}
	n = PyNumber_Index(o);
	if (n == NULL)
		return -1;
	v = PyLong_AsLongLong(n);
	Py_DECREF(n);
	if (v == -1 && PyErr_Occurred())
		return -1;
	if (v < 0) {
		char msg[96];
		if (i < 0)
			snprintf(msg, sizeof msg, "step %lld: must be 0 or more",
			         v);
		else
			snprintf(msg, sizeof msg, "point %zd: step %lld: must "
			         "be 0 or more", i, v);
		raise_status(MS_EINVAL, msg);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

/* run_start(name, run_id, params_json, tags_json, dataset_size) -> id;
 * dataset_size negative: unknown. */
static PyObject *Store_run_start(StoreObject *self, PyObject *args)
{
	ms_run_options o = MS_RUN_OPTIONS_INIT;
	long long size;
	ms_buf id = MS_BUF_INIT;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];
	PyObject *res = NULL;

	if (!PyArg_ParseTuple(args, "zzzzL:run_start", &o.model_name,
	                      &o.run_id, &o.params_json, &o.tags_json, &size))
		return NULL;
	o.dataset_size = (int64_t)size;
	WITH_STORE(self, closed, {
		st = ms_run_start(&id, self->s, &o);
		copy_err(err, self->s, st);
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else
		res = str_of(id.ptr);
	ms_buf_dispose(&id);
	return res;
}

/* run_log_metric(run_id, metric, value, step or None) */
static PyObject *Store_run_log_metric(StoreObject *self, PyObject *args)
{
	const char *id, *metric;
	double value;
	PyObject *step_o;
	int64_t step;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];

	if (!PyArg_ParseTuple(args, "ssdO:run_log_metric", &id, &metric,
	                      &value, &step_o))
		return NULL;
	if (step_of(step_o, &step, -1) < 0)
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_run_log_metric(self->s, id, metric, value, step);
		copy_err(err, self->s, st);
	});
	if (closed)
		return raise_closed("Store");
	if (st != MS_OK)
		return raise_status(st, err);
	Py_RETURN_NONE;
}

/*
 * run_log_metrics(run_id, points) -> count: points is a list of
 * (metric, value, step or None) tuples, sent as ONE ms_run_log_metrics
 * call (one statement, all or nothing) without the GIL.
 */
static PyObject *Store_run_log_metrics(StoreObject *self, PyObject *args)
{
	const char *id;
	PyObject *points;
	ms_metric_point *p = NULL;
	Py_ssize_t n;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];
	PyObject *res = NULL;

	if (!PyArg_ParseTuple(args, "sO!:run_log_metrics", &id, &PyList_Type,
	                      &points))
		return NULL;
	n = PyList_GET_SIZE(points);
	p = PyMem_Calloc(n ? (size_t)n : 1, sizeof *p);
	if (p == NULL)
		return PyErr_NoMemory();
	/* The list and its tuples are built by the Python layer and never
	 * handed out, so nothing changes them while the GIL is released:
	 * the UTF-8 pointers (owned by the str objects) hold. */
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *t = PyList_GET_ITEM(points, i), *m;
		if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 3) {
			PyErr_Format(PyExc_TypeError, "point %zd: expected "
			             "(metric, value, step)", i);
			goto out;
		}
		m = PyTuple_GET_ITEM(t, 0);
		if (!PyUnicode_Check(m)) {
			PyErr_Format(PyExc_TypeError, "point %zd: the metric "
			             "name must be str, not %.50s", i,
			             Py_TYPE(m)->tp_name);
			goto out;
		}
		p[i].metric = PyUnicode_AsUTF8(m);
		if (p[i].metric == NULL)
			goto out;
		p[i].value = PyFloat_AsDouble(PyTuple_GET_ITEM(t, 1));
		if (p[i].value == -1.0 && PyErr_Occurred()) {
			if (PyErr_ExceptionMatches(PyExc_TypeError)) {
				PyErr_Clear();
				PyErr_Format(PyExc_TypeError, "point %zd (%s): the "
				             "value must be a number", i,
				             p[i].metric);
			}
			goto out;
		}
		if (step_of(PyTuple_GET_ITEM(t, 2), &p[i].step, i) < 0)
			goto out;
		p[i].time_ms = 0;
	}
	WITH_STORE(self, closed, {
		st = ms_run_log_metrics(self->s, id, p, (size_t)n);
		copy_err(err, self->s, st);
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else
		res = PyLong_FromSsize_t(n);
out:
	PyMem_Free(p);
	return res;
}

/* run_finish(run_id, "finished" | "failed" | "killed") */
static PyObject *Store_run_finish(StoreObject *self, PyObject *args)
{
	const char *id, *status;
	ms_run_status rs;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];

	if (!PyArg_ParseTuple(args, "ss:run_finish", &id, &status))
		return NULL;
	if (ms_run_status_parse(&rs, status) != MS_OK ||
	    rs == MS_RUN_RUNNING) {
		snprintf(err, sizeof err, "run status \"%.40s\": expected "
		         "finished, failed or killed", status);
		return raise_status(MS_EINVAL, err);
	}
	WITH_STORE(self, closed, {
		st = ms_run_finish(self->s, id, rs);
		copy_err(err, self->s, st);
	});
	if (closed)
		return raise_closed("Store");
	if (st != MS_OK)
		return raise_status(st, err);
	Py_RETURN_NONE;
}

/* run_list(name, limit) -> the ms_run_list array, parsed */
static PyObject *Store_run_list(StoreObject *self, PyObject *args)
{
	const char *name;
	Py_ssize_t limit;
	ms_buf out = MS_BUF_INIT;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];
	PyObject *res = NULL;

	if (!PyArg_ParseTuple(args, "zn:run_list", &name, &limit))
		return NULL;
	if (limit < 0)
		return raise_status(MS_EINVAL, "limit must not be negative");
	WITH_STORE(self, closed, {
		st = ms_run_list(&out, self->s, name, (size_t)limit);
		copy_err(err, self->s, st);
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else
		res = PyObject_CallFunction(json_loads, "s",
		                            out.ptr ? out.ptr : "[]");
	ms_buf_dispose(&out);
	return res;
}

/* run_show(run_id, metric or None) -> the ms_run_show object, parsed */
static PyObject *Store_run_show(StoreObject *self, PyObject *args)
{
	const char *id, *metric;
	ms_buf out = MS_BUF_INIT;
	ms_status st = MS_OK;
	int closed;
	char err[ERRMSG_MAX];
	PyObject *res = NULL;

	if (!PyArg_ParseTuple(args, "sz:run_show", &id, &metric))
		return NULL;
	WITH_STORE(self, closed, {
		st = ms_run_show(&out, self->s, id, metric);
		copy_err(err, self->s, st);
	});
	if (closed)
		raise_closed("Store");
	else if (st != MS_OK)
		raise_status(st, err);
	else
		res = PyObject_CallFunction(json_loads, "s",
		                            out.ptr ? out.ptr : "{}");
	ms_buf_dispose(&out);
	return res;
}

static PyMethodDef Store_methods[] = {
	{ "close", (PyCFunction)Store_close, METH_NOARGS,
	  "Close the connection (idempotent)." },
	{ "target", (PyCFunction)Store_target, METH_NOARGS,
	  "host:port/db of the connection, never the password." },
	{ "push", (PyCFunction)Store_push, METH_VARARGS, NULL },
	{ "show", (PyCFunction)Store_show, METH_VARARGS, NULL },
	{ "pull", (PyCFunction)Store_pull, METH_VARARGS, NULL },
	{ "pull_file", (PyCFunction)Store_pull_file, METH_VARARGS, NULL },
	{ "list", (PyCFunction)Store_list, METH_VARARGS, NULL },
	{ "promote", (PyCFunction)Store_promote, METH_VARARGS, NULL },
	{ "rollback", (PyCFunction)Store_rollback, METH_VARARGS, NULL },
	{ "prune", (PyCFunction)Store_prune, METH_VARARGS, NULL },
	{ "verify", (PyCFunction)Store_verify, METH_VARARGS, NULL },
	{ "record_actual", (PyCFunction)Store_record_actual, METH_VARARGS,
	  NULL },
	{ "record_actuals", (PyCFunction)Store_record_actuals, METH_VARARGS,
	  NULL },
	{ "report", (PyCFunction)Store_report, METH_VARARGS, NULL },
	{ "export", (PyCFunction)Store_export, METH_VARARGS, NULL },
	{ "run_start", (PyCFunction)Store_run_start, METH_VARARGS, NULL },
	{ "run_log_metric", (PyCFunction)Store_run_log_metric, METH_VARARGS,
	  NULL },
	{ "run_log_metrics", (PyCFunction)Store_run_log_metrics, METH_VARARGS,
	  NULL },
	{ "run_finish", (PyCFunction)Store_run_finish, METH_VARARGS, NULL },
	{ "run_list", (PyCFunction)Store_run_list, METH_VARARGS, NULL },
	{ "run_show", (PyCFunction)Store_run_show, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyTypeObject StoreType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "modelstore._modelstore.Store",
	.tp_basicsize = sizeof(StoreObject),
	.tp_dealloc = (destructor)Store_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "An ms_store: one connection, one call at a time (locked).",
	.tp_methods = Store_methods,
	.tp_init = (initproc)Store_init,
	.tp_new = Store_new,
};

/* ------------------------------------------------------------------ */
/* Model                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	ms_model *m; /* one reference, released by dealloc */
	PyObject *metrics; /* parsed on first use */
} ModelObject;

static PyTypeObject ModelType;

static PyObject *model_wrap(ms_model *m)
{
	ModelObject *o = PyObject_New(ModelObject, &ModelType);
	if (o == NULL) {
		ms_model_release(m);
		return NULL;
	}
	o->m = m;
	o->metrics = NULL;
	return (PyObject *)o;
}

static void Model_dealloc(ModelObject *self)
{
	ms_model_release(self->m);
	Py_XDECREF(self->metrics);
	PyObject_Free(self);
}

/* The buffer points at the ms_model's bytes; the view holds a reference
 * to this object, which holds the ms_model: zero-copy, read-only. */
static int Model_getbuffer(ModelObject *self, Py_buffer *view, int flags)
{
	return PyBuffer_FillInfo(view, (PyObject *)self,
	                         (void *)ms_model_data(self->m),
	                         (Py_ssize_t)ms_model_size(self->m), 1, flags);
}

static PyBufferProcs Model_as_buffer = {
	.bf_getbuffer = (getbufferproc)Model_getbuffer,
};

static Py_ssize_t Model_len(ModelObject *self)
{
	return (Py_ssize_t)ms_model_size(self->m);
}

static PySequenceMethods Model_as_sequence = {
	.sq_length = (lenfunc)Model_len,
};

static PyObject *Model_get_name(ModelObject *s, void *c)
{
	(void)c;
	return str_of(ms_model_name(s->m));
}

static PyObject *Model_get_version(ModelObject *s, void *c)
{
	(void)c;
	return str_of(ms_model_version(s->m));
}

static PyObject *Model_get_type(ModelObject *s, void *c)
{
	(void)c;
	return str_of(ms_model_type(s->m));
}

static PyObject *Model_get_sha256(ModelObject *s, void *c)
{
	(void)c;
	return str_of(ms_model_sha256(s->m));
}

static PyObject *Model_get_source(ModelObject *s, void *c)
{
	(void)c;
	return PyUnicode_FromString(ms_source_str(ms_model_source(s->m)));
}

static PyObject *Model_get_verified(ModelObject *s, void *c)
{
	(void)c;
	return PyBool_FromLong(ms_model_verified(s->m));
}

static PyObject *Model_get_size(ModelObject *s, void *c)
{
	(void)c;
	return PyLong_FromUnsignedLongLong(ms_model_size(s->m));
}

static PyObject *Model_get_metrics(ModelObject *s, void *c)
{
	(void)c;
	if (s->metrics == NULL) {
		s->metrics = parse_json(ms_model_metrics_json(s->m));
		if (s->metrics == NULL)
			return NULL;
	}
	/* a copy, so that a caller's change never shows in another's view */
	return PyDict_Copy(s->metrics);
}

/* Test hook: the address of the ms_model's bytes. */
static PyObject *Model_get_address(ModelObject *s, void *c)
{
	(void)c;
	return PyLong_FromVoidPtr((void *)ms_model_data(s->m));
}

static PyGetSetDef Model_getset[] = {
	{ "name", (getter)Model_get_name, NULL, "The model name.", NULL },
	{ "version", (getter)Model_get_version, NULL,
	  "The version; \"unknown\" for a fallback copy without sidecar.",
	  NULL },
	{ "model_type", (getter)Model_get_type, NULL, "The type as pushed.",
	  NULL },
	{ "sha256", (getter)Model_get_sha256, NULL,
	  "SHA-256 of the bytes (hex), computed while loading.", NULL },
	{ "source", (getter)Model_get_source, NULL,
	  "\"database\", \"cache\" or \"fallback\".", NULL },
	{ "verified", (getter)Model_get_verified, NULL,
	  "True when the bytes matched a recorded SHA-256.", NULL },
	{ "size", (getter)Model_get_size, NULL, "Byte count.", NULL },
	{ "metrics", (getter)Model_get_metrics, NULL,
	  "The metrics stored with the version (a new dict each time).",
	  NULL },
	{ "_address", (getter)Model_get_address, NULL,
	  "Test hook: address of the library's bytes.", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

static PyObject *Model_repr(ModelObject *s)
{
	return PyUnicode_FromFormat("<modelstore.Model %s %s, %llu bytes, %s>",
	                            ms_model_name(s->m), ms_model_version(s->m),
	                            (unsigned long long)ms_model_size(s->m),
	                            ms_source_str(ms_model_source(s->m)));
}

static PyTypeObject ModelType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "modelstore.Model",
	.tp_basicsize = sizeof(ModelObject),
	.tp_dealloc = (destructor)Model_dealloc,
	.tp_repr = (reprfunc)Model_repr,
	.tp_as_sequence = &Model_as_sequence,
	.tp_as_buffer = &Model_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc =
		"A loaded model: immutable bytes plus metadata.\n\n"
		"Its bytes are read through the buffer protocol without a copy:\n"
		"memoryview(model) is read-only and points at the library's\n"
		"buffer, which stays alive as long as the Model or any view of\n"
		"it does.  bytes(model) makes a copy.",
	.tp_getset = Model_getset,
};

/* ------------------------------------------------------------------ */
/* Loader                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	ms_loader *l;
	pthread_rwlock_t rw; /* read: a call; write: close */
	int rw_ok;
} LoaderObject;

static PyObject *Loader_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	LoaderObject *self;
	(void)args;
	(void)kw;
	self = (LoaderObject *)type->tp_alloc(type, 0);
	if (self == NULL)
		return NULL;
	if (pthread_rwlock_init(&self->rw, NULL) != 0) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	self->rw_ok = 1;
	return (PyObject *)self;
}

static int Loader_init(LoaderObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "url", "fallback_dir", "watch",
	                          "cache_bytes", "refresh_fallback",
	                          "connect_timeout", NULL };
	const char *url = NULL;
	PyObject *dir_o = NULL;
	int watch = 1, refresh = 0, timeout = 0;
	unsigned long long cache = 0;
	ms_loader_options o = MS_LOADER_OPTIONS_INIT;
	ms_loader *l = NULL;
	ms_buf err = MS_BUF_INIT;
	ms_status st;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|zO&pKpi", kwlist, &url,
	                                 PyUnicode_FSConverter, &dir_o, &watch,
	                                 &cache, &refresh, &timeout))
		return -1;
	if (self->l != NULL) {
		Py_XDECREF(dir_o);
		PyErr_SetString(PyExc_RuntimeError, "Loader already open");
		return -1;
	}
	o.fallback_dir = dir_o ? PyBytes_AS_STRING(dir_o) : NULL;
	o.watch = watch ? MS_WATCH_NOTIFY : MS_WATCH_OFF;
	o.cache_bytes = cache;
	o.refresh_fallback = refresh;
	o.connect_timeout = timeout;
	Py_BEGIN_ALLOW_THREADS
	st = ms_loader_open(&l, url, &o);
	if (st != MS_OK) {
		ms_loader_last_error(&err, l);
		ms_loader_close(l);
		l = NULL;
	}
	Py_END_ALLOW_THREADS
	Py_XDECREF(dir_o);
	if (st != MS_OK) {
		raise_status(st, err.ptr);
		ms_buf_dispose(&err);
		return -1;
	}
	self->l = l;
	return 0;
}

static void Loader_dealloc(LoaderObject *self)
{
	if (self->l) {
		Py_BEGIN_ALLOW_THREADS
		ms_loader_close(self->l);
		Py_END_ALLOW_THREADS
	}
	if (self->rw_ok)
		pthread_rwlock_destroy(&self->rw);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Loader_close(LoaderObject *self, PyObject *unused)
{
	(void)unused;
	Py_BEGIN_ALLOW_THREADS
	pthread_rwlock_wrlock(&self->rw);
	ms_loader_close(self->l);
	self->l = NULL;
	pthread_rwlock_unlock(&self->rw);
	Py_END_ALLOW_THREADS
	Py_RETURN_NONE;
}

/* An optional str argument of a fast call: None gives NULL. */
static int fast_str(PyObject *o, const char **out, const char *what)
{
	if (o == Py_None) {
		*out = NULL;
		return 0;
	}
	if (!PyUnicode_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s must be a str or None, not %s",
		             what, Py_TYPE(o)->tp_name);
		return -1;
	}
	*out = PyUnicode_AsUTF8(o);
	return *out == NULL ? -1 : 0;
}

static PyObject *loader_error(ms_status st, ms_loader *l)
{
	ms_buf err = MS_BUF_INIT;
	ms_loader_last_error(&err, l);
	raise_status(st, err.ptr);
	ms_buf_dispose(&err);
	return NULL;
}

/* get(name, selector) -> Model; a load from the database or the
 * fallback runs without the GIL. */
static PyObject *Loader_get(LoaderObject *self, PyObject *const *args,
                            Py_ssize_t nargs)
{
	const char *name, *sel;
	ms_model *m = NULL;
	ms_status st = MS_OK;
	ms_buf err = MS_BUF_INIT;
	int closed;

	if (nargs != 2) {
		PyErr_SetString(PyExc_TypeError, "get(name, selector)");
		return NULL;
	}
	if (fast_str(args[0], &name, "name") < 0 ||
	    fast_str(args[1], &sel, "selector") < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	pthread_rwlock_rdlock(&self->rw);
	closed = self->l == NULL;
	if (!closed) {
		st = ms_loader_get(&m, self->l, name, sel);
		if (st != MS_OK)
			ms_loader_last_error(&err, self->l);
	}
	pthread_rwlock_unlock(&self->rw);
	Py_END_ALLOW_THREADS
	if (closed)
		return raise_closed("Loader");
	if (st != MS_OK) {
		raise_status(st, err.ptr);
		ms_buf_dispose(&err);
		return NULL;
	}
	return model_wrap(m);
}

static PyObject *Loader_preload(LoaderObject *self, PyObject *unused)
{
	size_t loaded = 0;
	ms_status st = MS_OK;
	ms_buf err = MS_BUF_INIT;
	int closed;
	(void)unused;
	Py_BEGIN_ALLOW_THREADS
	pthread_rwlock_rdlock(&self->rw);
	closed = self->l == NULL;
	if (!closed) {
		st = ms_loader_preload(&loaded, self->l);
		if (st != MS_OK)
			ms_loader_last_error(&err, self->l);
	}
	pthread_rwlock_unlock(&self->rw);
	Py_END_ALLOW_THREADS
	if (closed)
		return raise_closed("Loader");
	if (st != MS_OK) {
		raise_status(st, err.ptr);
		ms_buf_dispose(&err);
		return NULL;
	}
	return PyLong_FromSize_t(loaded);
}

static PyObject *Loader_stats(LoaderObject *self, PyObject *unused)
{
	ms_loader_stats s = MS_LOADER_STATS_INIT;
	(void)unused;
	if (pthread_rwlock_tryrdlock(&self->rw) == 0) { /* else: closing */
		ms_loader_stats_get(&s, self->l);
		pthread_rwlock_unlock(&self->rw);
	}
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}",
	                     "hits", s.hits, "misses", s.misses, "db_loads",
	                     s.db_loads, "fallback_loads", s.fallback_loads,
	                     "reloads", s.reloads, "bytes_cached",
	                     s.bytes_cached, "entries", s.entries,
	                     "integrity_failures", s.integrity_failures,
	                     "outages", s.outages);
}

static PyObject *Loader_last_error(LoaderObject *self, PyObject *unused)
{
	ms_buf err = MS_BUF_INIT;
	PyObject *r;
	(void)unused;
	if (pthread_rwlock_tryrdlock(&self->rw) == 0) { /* else: closing */
		if (self->l)
			ms_loader_last_error(&err, self->l);
		pthread_rwlock_unlock(&self->rw);
	}
	r = str_of(err.ptr);
	ms_buf_dispose(&err);
	return r;
}

static PyMethodDef Loader_methods[] = {
	{ "close", (PyCFunction)Loader_close, METH_NOARGS, NULL },
	{ "get", (PyCFunction)(void (*)(void))Loader_get, METH_FASTCALL, NULL },
	{ "preload", (PyCFunction)Loader_preload, METH_NOARGS, NULL },
	{ "stats", (PyCFunction)Loader_stats, METH_NOARGS, NULL },
	{ "last_error", (PyCFunction)Loader_last_error, METH_NOARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyTypeObject LoaderType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "modelstore._modelstore.Loader",
	.tp_basicsize = sizeof(LoaderObject),
	.tp_dealloc = (destructor)Loader_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "An ms_loader (thread-safe).",
	.tp_methods = Loader_methods,
	.tp_init = (initproc)Loader_init,
	.tp_new = Loader_new,
};

/* ------------------------------------------------------------------ */
/* PredictionLogger                                                    */
/* ------------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	ms_predlog *p;
	pthread_rwlock_t rw; /* read: a call; write: close */
	int rw_ok;
} PredlogObject;

static PyObject *Predlog_new(PyTypeObject *type, PyObject *args,
                             PyObject *kw)
{
	PredlogObject *self;
	(void)args;
	(void)kw;
	self = (PredlogObject *)type->tp_alloc(type, 0);
	if (self == NULL)
		return NULL;
	if (pthread_rwlock_init(&self->rw, NULL) != 0) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	self->rw_ok = 1;
	return (PyObject *)self;
}

static int Predlog_init(PredlogObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "url", "spool_dir", "queue_capacity",
	                          "batch_size", "flush_interval_ms",
	                          "connect_timeout", NULL };
	const char *url = NULL;
	PyObject *dir_o = NULL;
	Py_ssize_t cap = 0, batch = 0;
	unsigned int interval = 0;
	int timeout = 0;
	ms_predlog_options o = MS_PREDLOG_OPTIONS_INIT;
	ms_predlog *p = NULL;
	ms_buf err = MS_BUF_INIT;
	ms_status st;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|zO&nnIi", kwlist, &url,
	                                 PyUnicode_FSConverter, &dir_o, &cap,
	                                 &batch, &interval, &timeout))
		return -1;
	if (self->p != NULL) {
		Py_XDECREF(dir_o);
		PyErr_SetString(PyExc_RuntimeError, "logger already open");
		return -1;
	}
	if (cap < 0 || batch < 0) {
		Py_XDECREF(dir_o);
		raise_status(MS_EINVAL, "queue_capacity and batch_size must not "
		                        "be negative");
		return -1;
	}
	o.spool_dir = dir_o ? PyBytes_AS_STRING(dir_o) : NULL;
	o.queue_capacity = (size_t)cap;
	o.batch_size = (size_t)batch;
	o.flush_interval_ms = interval;
	o.connect_timeout = timeout;
	Py_BEGIN_ALLOW_THREADS
	st = ms_predlog_open(&p, url, &o);
	if (st != MS_OK) {
		if (p)
			ms_predlog_last_error(&err, p);
		ms_predlog_close(p);
		p = NULL;
	}
	Py_END_ALLOW_THREADS
	Py_XDECREF(dir_o);
	if (st != MS_OK) {
		raise_status(st, err.ptr);
		ms_buf_dispose(&err);
		return -1;
	}
	self->p = p;
	return 0;
}

static void Predlog_dealloc(PredlogObject *self)
{
	if (self->p) {
		Py_BEGIN_ALLOW_THREADS
		(void)ms_predlog_close(self->p);
		Py_END_ALLOW_THREADS
	}
	if (self->rw_ok)
		pthread_rwlock_destroy(&self->rw);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *predlog_error(ms_status st, ms_predlog *p)
{
	ms_buf err = MS_BUF_INIT;
	ms_predlog_last_error(&err, p);
	raise_status(st, err.ptr);
	ms_buf_dispose(&err);
	return NULL;
}

/* log(version, features_json, predicted, confidence, actual, name) -> id.
 * Never touches the network: runs with the GIL held (a queue append). */
static PyObject *Predlog_log(PredlogObject *self, PyObject *const *args,
                             Py_ssize_t nargs)
{
	ms_prediction p;
	char id[MS_UUID_STRLEN];
	ms_status st;

	if (nargs != 6) {
		PyErr_SetString(PyExc_TypeError,
		                "log(version, features, predicted, confidence, "
		                "actual, name)");
		return NULL;
	}
	if (!PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1])) {
		PyErr_SetString(PyExc_TypeError,
		                "version and features must be str");
		return NULL;
	}
	p.model_version = PyUnicode_AsUTF8(args[0]);
	p.input_features = PyUnicode_AsUTF8(args[1]);
	if (p.model_version == NULL || p.input_features == NULL)
		return NULL;
	p.predicted_value = PyFloat_AsDouble(args[2]);
	if (p.predicted_value == -1.0 && PyErr_Occurred())
		return NULL;
	if (opt_double(args[3], &p.confidence_score) < 0 ||
	    opt_double(args[4], &p.actual_value) < 0 ||
	    fast_str(args[5], &p.model_name, "name") < 0)
		return NULL;
	/* With the GIL held, never wait for a close() in progress (it holds
	 * the write lock while the writer drains): that logger is closed. */
	if (pthread_rwlock_tryrdlock(&self->rw) != 0)
		return raise_closed("PredictionLogger");
	if (self->p == NULL) {
		pthread_rwlock_unlock(&self->rw);
		return raise_closed("PredictionLogger");
	}
	st = ms_predlog_log(id, self->p, &p);
	if (st != MS_OK) {
		predlog_error(st, self->p);
		pthread_rwlock_unlock(&self->rw);
		return NULL;
	}
	pthread_rwlock_unlock(&self->rw);
	return PyUnicode_FromStringAndSize(id, MS_UUID_STRLEN - 1);
}

static PyObject *Predlog_flush(PredlogObject *self, PyObject *args)
{
	unsigned int ms;
	ms_status st = MS_OK;
	ms_buf err = MS_BUF_INIT;
	int closed;

	if (!PyArg_ParseTuple(args, "I:flush", &ms))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	pthread_rwlock_rdlock(&self->rw);
	closed = self->p == NULL;
	if (!closed) {
		st = ms_predlog_flush(self->p, ms);
		if (st != MS_OK)
			ms_predlog_last_error(&err, self->p);
	}
	pthread_rwlock_unlock(&self->rw);
	Py_END_ALLOW_THREADS
	if (closed)
		return raise_closed("PredictionLogger");
	if (st != MS_OK) {
		raise_status(st, err.ptr);
		ms_buf_dispose(&err);
		return NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *Predlog_close(PredlogObject *self, PyObject *unused)
{
	ms_status st = MS_OK;
	(void)unused;
	Py_BEGIN_ALLOW_THREADS
	pthread_rwlock_wrlock(&self->rw);
	if (self->p)
		st = ms_predlog_close(self->p);
	self->p = NULL;
	pthread_rwlock_unlock(&self->rw);
	Py_END_ALLOW_THREADS
	if (st != MS_OK)
		return raise_status(st, "rows could be neither written nor "
		                        "spooled and were dropped at close");
	Py_RETURN_NONE;
}

static PyObject *Predlog_stats(PredlogObject *self, PyObject *unused)
{
	ms_predlog_stats s = MS_PREDLOG_STATS_INIT;
	(void)unused;
	if (pthread_rwlock_tryrdlock(&self->rw) == 0) { /* else: closing */
		ms_predlog_stats_get(&s, self->p);
		pthread_rwlock_unlock(&self->rw);
	}
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}",
	                     "accepted", s.accepted, "written", s.written,
	                     "spooled", s.spooled, "replayed", s.replayed,
	                     "rejected", s.rejected, "dropped_full",
	                     s.dropped_full, "spool_corrupt", s.spool_corrupt,
	                     "batches", s.batches, "retries", s.retries);
}

static PyObject *Predlog_last_error(PredlogObject *self, PyObject *unused)
{
	ms_buf err = MS_BUF_INIT;
	PyObject *r;
	(void)unused;
	if (pthread_rwlock_tryrdlock(&self->rw) == 0) { /* else: closing */
		if (self->p)
			ms_predlog_last_error(&err, self->p);
		pthread_rwlock_unlock(&self->rw);
	}
	r = str_of(err.ptr);
	ms_buf_dispose(&err);
	return r;
}

static PyMethodDef Predlog_methods[] = {
	{ "log", (PyCFunction)(void (*)(void))Predlog_log, METH_FASTCALL,
	  NULL },
	{ "flush", (PyCFunction)Predlog_flush, METH_VARARGS, NULL },
	{ "close", (PyCFunction)Predlog_close, METH_NOARGS, NULL },
	{ "stats", (PyCFunction)Predlog_stats, METH_NOARGS, NULL },
	{ "last_error", (PyCFunction)Predlog_last_error, METH_NOARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyTypeObject PredlogType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "modelstore._modelstore.PredictionLogger",
	.tp_basicsize = sizeof(PredlogObject),
	.tp_dealloc = (destructor)Predlog_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "An ms_predlog (thread-safe).",
	.tp_methods = Predlog_methods,
	.tp_init = (initproc)Predlog_init,
	.tp_new = Predlog_new,
};

/* ------------------------------------------------------------------ */
/* Module functions                                                    */
/* ------------------------------------------------------------------ */

static PyObject *mod_register_errors(PyObject *mod, PyObject *arg)
{
	PyObject *k, *v;
	Py_ssize_t pos = 0;
	(void)mod;
	if (!PyDict_Check(arg)) {
		PyErr_SetString(PyExc_TypeError, "expected {status: class}");
		return NULL;
	}
	while (PyDict_Next(arg, &pos, &k, &v)) {
		long st = PyLong_AsLong(k);
		if (st == -1 && PyErr_Occurred())
			return NULL;
		if (st < 0 || st >= N_STATUS || !PyType_Check(v)) {
			PyErr_SetString(PyExc_ValueError, "bad status or class");
			return NULL;
		}
		Py_XSETREF(status_exc[st], Py_NewRef(v));
	}
	Py_RETURN_NONE;
}

static PyObject *mod_migrate(PyObject *mod, PyObject *args)
{
	const char *url = NULL;
	ms_store_options o = MS_STORE_OPTIONS_INIT;
	ms_store *s = NULL;
	ms_status st;
	int applied = 0;
	char err[ERRMSG_MAX];
	(void)mod;

	if (!PyArg_ParseTuple(args, "z:migrate", &url))
		return NULL;
	o.check_schema = 0;
	Py_BEGIN_ALLOW_THREADS
	st = ms_store_open(&s, url, &o);
	if (st == MS_OK)
		st = ms_store_migrate(&applied, s);
	copy_err(err, s, st);
	ms_store_close(s);
	Py_END_ALLOW_THREADS
	if (st != MS_OK)
		return raise_status(st, err);
	return PyLong_FromLong(applied);
}

static PyObject *mod_status_str(PyObject *mod, PyObject *arg)
{
	long st = PyLong_AsLong(arg);
	(void)mod;
	if (st == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(ms_status_str((ms_status)st));
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Benchmark hook: @n cached gets (+ release) timed from C, in the same
 * process and on the same loader as the Python calls.  Returns the
 * nanoseconds of each call. */
static PyObject *mod_bench_get(PyObject *mod, PyObject *args)
{
	LoaderObject *lo;
	const char *name, *sel;
	Py_ssize_t n;
	uint64_t *t;
	ms_status st = MS_OK;
	PyObject *res;
	(void)mod;

	if (!PyArg_ParseTuple(args, "O!zzn", &LoaderType, &lo, &name, &sel, &n))
		return NULL;
	if (lo->l == NULL || n <= 0)
		return raise_status(MS_EINVAL, "closed loader or n <= 0");
	t = PyMem_RawMalloc((size_t)n * sizeof *t);
	if (t == NULL)
		return PyErr_NoMemory();
	Py_BEGIN_ALLOW_THREADS
	for (Py_ssize_t i = 0; i < n && st == MS_OK; i++) {
		ms_model *m = NULL;
		uint64_t a = now_ns();
		st = ms_loader_get(&m, lo->l, name, sel);
		ms_model_release(m);
		t[i] = now_ns() - a;
	}
	Py_END_ALLOW_THREADS
	if (st != MS_OK) {
		PyMem_RawFree(t);
		return loader_error(st, lo->l);
	}
	res = PyList_New(n);
	for (Py_ssize_t i = 0; res && i < n; i++) {
		PyObject *v = PyLong_FromUnsignedLongLong(t[i]);
		if (v == NULL)
			Py_CLEAR(res);
		else
			PyList_SET_ITEM(res, i, v);
	}
	PyMem_RawFree(t);
	return res;
}

/* Benchmark hook: @n ms_predlog_log calls timed from C. */
static PyObject *mod_bench_log(PyObject *mod, PyObject *args)
{
	PredlogObject *po;
	const char *version, *features, *name;
	Py_ssize_t n;
	uint64_t *t;
	ms_status st = MS_OK;
	PyObject *res;
	(void)mod;

	if (!PyArg_ParseTuple(args, "O!sszn", &PredlogType, &po, &version,
	                      &features, &name, &n))
		return NULL;
	if (po->p == NULL || n <= 0)
		return raise_status(MS_EINVAL, "closed logger or n <= 0");
	t = PyMem_RawMalloc((size_t)n * sizeof *t);
	if (t == NULL)
		return PyErr_NoMemory();
	Py_BEGIN_ALLOW_THREADS
	for (Py_ssize_t i = 0; i < n && st == MS_OK; i++) {
		char id[MS_UUID_STRLEN];
		ms_prediction p = { name, version, features, (double)i, 0.9, NAN };
		uint64_t a = now_ns();
		st = ms_predlog_log(id, po->p, &p);
		t[i] = now_ns() - a;
	}
	Py_END_ALLOW_THREADS
	if (st != MS_OK) {
		PyMem_RawFree(t);
		return predlog_error(st, po->p);
	}
	res = PyList_New(n);
	for (Py_ssize_t i = 0; res && i < n; i++) {
		PyObject *v = PyLong_FromUnsignedLongLong(t[i]);
		if (v == NULL)
			Py_CLEAR(res);
		else
			PyList_SET_ITEM(res, i, v);
	}
	PyMem_RawFree(t);
	return res;
}

static PyMethodDef module_methods[] = {
	{ "_register_errors", mod_register_errors, METH_O,
	  "Install the exception class of each status." },
	{ "migrate", mod_migrate, METH_VARARGS,
	  "migrate(url) -> number of migrations applied." },
	{ "status_str", mod_status_str, METH_O,
	  "Static text describing a status code." },
	{ "_bench_get", mod_bench_get, METH_VARARGS,
	  "Benchmark hook: ns of n cached gets from C." },
	{ "_bench_log", mod_bench_log, METH_VARARGS,
	  "Benchmark hook: ns of n ms_predlog_log calls from C." },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef moduledef = {
	PyModuleDef_HEAD_INIT,
	.m_name = "modelstore._modelstore",
	.m_doc = "C extension over libmodelstore (see modelstore).",
	.m_size = -1,
	.m_methods = module_methods,
};

static int add_type(PyObject *m, PyTypeObject *t, const char *name)
{
	if (PyType_Ready(t) < 0)
		return -1;
	Py_INCREF(t);
	if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
		Py_DECREF(t);
		return -1;
	}
	return 0;
}

PyMODINIT_FUNC PyInit__modelstore(void)
{
	PyObject *m, *json;

	json = PyImport_ImportModule("json");
	if (json == NULL)
		return NULL;
	json_loads = PyObject_GetAttrString(json, "loads");
	Py_DECREF(json);
	if (json_loads == NULL)
		return NULL;
	m = PyModule_Create(&moduledef);
	if (m == NULL)
		return NULL;
	if (add_type(m, &StoreType, "Store") < 0 ||
	    add_type(m, &ModelType, "Model") < 0 ||
	    add_type(m, &LoaderType, "Loader") < 0 ||
	    add_type(m, &PredlogType, "PredictionLogger") < 0 ||
	    PyModule_AddStringConstant(m, "LIBRARY_VERSION", ms_version()) < 0 ||
	    PyModule_AddStringConstant(m, "HEADER_VERSION", MS_VERSION) < 0 ||
	    PyModule_AddIntConstant(m, "OK", MS_OK) < 0 ||
	    PyModule_AddIntConstant(m, "ERROR", MS_ERROR) < 0 ||
	    PyModule_AddIntConstant(m, "EINVAL", MS_EINVAL) < 0 ||
	    PyModule_AddIntConstant(m, "ENOTFOUND", MS_ENOTFOUND) < 0 ||
	    PyModule_AddIntConstant(m, "EEXISTS", MS_EEXISTS) < 0 ||
	    PyModule_AddIntConstant(m, "EUNREACHABLE", MS_EUNREACHABLE) < 0 ||
	    PyModule_AddIntConstant(m, "EINTEGRITY", MS_EINTEGRITY) < 0 ||
	    PyModule_AddIntConstant(m, "EIO", MS_EIO) < 0 ||
	    PyModule_AddIntConstant(m, "ENOMEM", MS_ENOMEM) < 0 ||
	    PyModule_AddIntConstant(m, "ETIMEDOUT", MS_ETIMEDOUT) < 0 ||
	    PyModule_AddIntConstant(m, "ESCHEMA", MS_ESCHEMA) < 0 ||
	    PyModule_AddIntConstant(m, "EFULL", MS_EFULL) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
