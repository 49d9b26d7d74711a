/*
 * dbsync.i - the one SWIG interface of libdbsync, for Python and Lua.
 *
 * Handles become classes whose destructors free them; `**out` results become
 * owned return values; a negative status becomes an exception (Python: the
 * class of dbsync.Error for the code, built by the factory the package
 * installs with _set_error_factory). Language-specific parts live in
 * #ifdef SWIGPYTHON / SWIGLUA blocks.
 *
 * The C handles are wrapped in small binding structs (DbsyncClient,
 * DbsyncServer) that also hold the callbacks and a "busy" count, so a closed
 * handle or one used from two threads at once raises instead of crashing.
 * Wrapper-only names keep SWIG's %extend helpers (`Type_method`) from
 * clashing with the real C functions (the GDAL trick); %rename gives them
 * their public names.
 *
 * Callbacks (pygit2 pattern): an exception raised by a Python callback is
 * stored (thread-local, first one wins), the callback returns non-zero /
 * DBSYNC_CALLBACK to the library, and the wrapper re-raises the stored
 * exception unchanged once the C call has returned.
 */
%module(package="dbsync") _core

%{
#include <string.h>
#include <stdio.h>
#include <dbsync.h>

typedef dbsync_oplist DbsyncOplist;
typedef dbsync_response DbsyncResponse;

typedef struct DbsyncClient {
	dbsync_client *c;
	int busy; /* calls in flight (with the GIL released) */
#ifdef SWIGPYTHON
	PyObject *progress;
	PyObject *conflict; /* the package's wrapper around on_conflict's fn */
#endif
} DbsyncClient;

typedef struct DbsyncServer {
	dbsync_server *s;
	int busy;
#ifdef SWIGPYTHON
	PyObject *on_register;
	PyObject *before_push;
	PyObject *after_push;
#endif
#ifdef SWIGLUA
	int hooks_running; /* Lua hooks on the C stack: see dbs_lua_hook */
#endif
} DbsyncServer;

/* An error raised by the binding itself (closed handle, handle in use):
 * its message, consumed by the next failing status check on this thread. */
static _Thread_local char dbs_msg[256];

static int dbs_error(int code, const char *msg)
{
	snprintf(dbs_msg, sizeof dbs_msg, "%s", msg);
	return code;
}

static const char *dbs_message(void)
{
	static _Thread_local char copy[sizeof dbs_msg];
	if (dbs_msg[0]) {
		memcpy(copy, dbs_msg, sizeof copy);
		dbs_msg[0] = 0;
		return copy;
	}
	return dbsync_last_error_message();
}

#define DBS_CLOSED(what) dbs_error(DBSYNC_INVALID, what " is closed")
#define DBS_IN_USE(what)                                                     \
	dbs_error(DBSYNC_BUSY, what " is in use by another thread")

#ifdef SWIGPYTHON
/* ---- Python: GIL, errors, callback exceptions ------------------------ */
#define DBS_ALLOW Py_BEGIN_ALLOW_THREADS
#define DBS_END_ALLOW Py_END_ALLOW_THREADS

static PyObject *dbs_error_factory;

static _Thread_local PyObject *dbs_exc_type;
static _Thread_local PyObject *dbs_exc_value;
static _Thread_local PyObject *dbs_exc_tb;

/* Called with the GIL and a Python error set: keep it for the wrapper. */
static void dbs_store_exception(void)
{
	if (dbs_exc_type) {
		PyErr_Clear(); /* the first exception wins */
		return;
	}
	PyErr_Fetch(&dbs_exc_type, &dbs_exc_value, &dbs_exc_tb);
	if (!dbs_exc_type) { /* cannot happen, but never lose the failure */
		dbs_exc_type = PyExc_RuntimeError;
		Py_INCREF(dbs_exc_type);
	}
}

static int dbs_exception_pending(void)
{
	return dbs_exc_type != NULL;
}

/* Forget an exception left over by a call that never checked (defensive). */
static void dbs_clear_stored(void)
{
	Py_CLEAR(dbs_exc_type);
	Py_CLEAR(dbs_exc_value);
	Py_CLEAR(dbs_exc_tb);
}

static void dbs_raise(int code)
{
	const char *msg = dbs_message();
	PyObject *exc;

	if (!dbs_error_factory) {
		PyErr_Format(PyExc_RuntimeError, "dbsync %s: %s",
			     dbsync_error_name(code), msg);
		return;
	}
	exc = PyObject_CallFunction(dbs_error_factory, "iss", code,
				    dbsync_error_name(code), msg);
	if (!exc)
		return; /* the factory's own error */
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
}

/* 1 (with a Python exception set) if the call failed: a stored callback
 * exception comes first, then a negative status. */
static int dbs_check(int code)
{
	if (dbs_exc_type) {
		PyErr_Restore(dbs_exc_type, dbs_exc_value, dbs_exc_tb);
		dbs_exc_type = dbs_exc_value = dbs_exc_tb = NULL;
		return 1;
	}
	if (code < 0) {
		dbs_raise(code);
		return 1;
	}
	return 0;
}

static int dbs_progress_cb(uint64_t bytes_done, uint64_t bytes_total,
			   uint64_t ops_done, uint64_t ops_total,
			   void *payload)
{
	DbsyncClient *w = payload;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *fn = w->progress, *r;
	int rc = 0;

	if (fn && !dbs_exception_pending()) {
		Py_INCREF(fn);
		r = PyObject_CallFunction(fn, "KKKK",
					  (unsigned long long)bytes_done,
					  (unsigned long long)bytes_total,
					  (unsigned long long)ops_done,
					  (unsigned long long)ops_total);
		Py_DECREF(fn);
		if (!r) {
			dbs_store_exception();
			rc = 1;
		} else {
			rc = (r == Py_False); /* False aborts */
			Py_DECREF(r);
		}
	} else if (dbs_exception_pending()) {
		rc = 1;
	}
	PyGILState_Release(g);
	return rc;
}

/* ---- Python: the conflict callback -------------------------------------
 *
 * It runs inside the pull's write transaction, which released the GIL. The
 * function held by the client is the package's wrapper around the user's
 * (dbsync.Client.on_conflict), called as
 *   fn(kind, table, op, is_choice, resolution, columns, pk, local, remote)
 * with `columns` a tuple of names (the key first) and `local`/`remote`
 * tuples of values in that order, None for a side that deleted the row. It
 * answers 0, DBSYNC_RESOLUTION_KEEP_LOCAL or _TAKE_REMOTE, or a list of
 * (column index, value) pairs: the merged row's changes, set here with
 * dbsync_conflict_set_* before answering DBSYNC_RESOLUTION_MERGED. An
 * exception (the user's, or a set_* failure raised as dbsync.Error) is kept
 * and the callback answers -1: the pull fails with DBSYNC_CALLBACK, rolls
 * its page back, and the wrapper re-raises the kept exception. */
static PyObject *dbs_conflict_value(const dbsync_conflict *c,
				    dbsync_side side, size_t k)
{
	size_t n = 0;
	const void *p;

	switch (dbsync_conflict_type(c, side, k)) {
	case DBSYNC_TYPE_INTEGER:
		return PyLong_FromLongLong(dbsync_conflict_int(c, side, k));
	case DBSYNC_TYPE_FLOAT:
		return PyFloat_FromDouble(dbsync_conflict_float(c, side, k));
	case DBSYNC_TYPE_TEXT:
		p = dbsync_conflict_bytes(c, side, k, &n);
		return PyUnicode_DecodeUTF8(p ? p : "", (Py_ssize_t)n,
					    "surrogateescape");
	case DBSYNC_TYPE_BLOB:
		p = dbsync_conflict_bytes(c, side, k, &n);
		return PyBytes_FromStringAndSize(p ? p : "", (Py_ssize_t)n);
	default:
		Py_RETURN_NONE;
	}
}

/* One side's row as a tuple, None if that side deleted it. */
static PyObject *dbs_conflict_row(const dbsync_conflict *c, dbsync_side side)
{
	size_t k, n = dbsync_conflict_column_count(c);
	PyObject *row;

	if (!dbsync_conflict_has_row(c, side))
		Py_RETURN_NONE;
	row = PyTuple_New((Py_ssize_t)n);
	for (k = 0; row && k < n; k++) {
		PyObject *v = dbs_conflict_value(c, side, k);
		if (!v) {
			Py_CLEAR(row);
			break;
		}
		PyTuple_SET_ITEM(row, (Py_ssize_t)k, v);
	}
	return row;
}

static PyObject *dbs_conflict_columns(const dbsync_conflict *c)
{
	size_t k, n = dbsync_conflict_column_count(c);
	PyObject *cols = PyTuple_New((Py_ssize_t)n);

	for (k = 0; cols && k < n; k++) {
		const char *name = dbsync_conflict_column(c, k);
		PyObject *s = PyUnicode_DecodeUTF8(name ? name : "",
						   (Py_ssize_t)strlen(name ? name : ""),
						   "surrogateescape");
		if (!s) {
			Py_CLEAR(cols);
			break;
		}
		PyTuple_SET_ITEM(cols, (Py_ssize_t)k, s);
	}
	return cols;
}

/* Set column `k` of the merged row to `v` (None, int, float, str or
 * bytes). 0, a negative dbsync code, or 1 with a Python error set. */
static int dbs_conflict_set(dbsync_conflict *c, size_t k, PyObject *v)
{
	if (v == Py_None)
		return dbsync_conflict_set_null(c, k);
	if (PyLong_Check(v)) {
		long long i = PyLong_AsLongLong(v);
		if (i == -1 && PyErr_Occurred())
			return 1;
		return dbsync_conflict_set_int(c, k, (int64_t)i);
	}
	if (PyFloat_Check(v))
		return dbsync_conflict_set_float(c, k, PyFloat_AS_DOUBLE(v));
	if (PyUnicode_Check(v)) {
		PyObject *b = PyUnicode_AsEncodedString(v, "utf-8",
							"surrogateescape");
		int r;
		if (!b)
			return 1;
		if (memchr(PyBytes_AS_STRING(b), 0,
			   (size_t)PyBytes_GET_SIZE(b)))
			r = dbs_error(DBSYNC_INVALID,
				      "a text value of the merged row contains "
				      "a NUL character");
		else
			r = dbsync_conflict_set_text(c, k,
						     PyBytes_AS_STRING(b));
		Py_DECREF(b);
		return r;
	}
	if (PyBytes_Check(v))
		return dbsync_conflict_set_blob(c, k, PyBytes_AS_STRING(v),
						(size_t)PyBytes_GET_SIZE(v));
	PyErr_Format(PyExc_TypeError,
		     "a value of the merged row must be None, int, float, str "
		     "or bytes, not %.100s", Py_TYPE(v)->tp_name);
	return 1;
}

/* The merged row's changes: a sequence of (column index, value). */
static int dbs_conflict_merge(dbsync_conflict *c, PyObject *changes)
{
	PyObject *seq = PySequence_Fast(changes, "merged row changes must be "
						 "a sequence");
	Py_ssize_t i, n;
	int r = 0;

	if (!seq)
		return 1;
	n = PySequence_Fast_GET_SIZE(seq);
	for (i = 0; i < n && r == 0; i++) {
		PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
		Py_ssize_t k;
		if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
			PyErr_SetString(PyExc_TypeError,
					"merged row changes must be (column "
					"index, value) pairs");
			r = 1;
			break;
		}
		k = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
		if (k == -1 && PyErr_Occurred()) {
			r = 1;
			break;
		}
		if (k < 0)
			r = dbs_error(DBSYNC_INVALID,
				      "merged row column index is negative");
		else
			r = dbs_conflict_set(c, (size_t)k,
					     PyTuple_GET_ITEM(pair, 1));
	}
	Py_DECREF(seq);
	return r;
}

static int dbs_conflict_cb(dbsync_conflict *c, void *payload)
{
	DbsyncClient *w = payload;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *fn = w->conflict, *args = NULL, *r = NULL;
	PyObject *cols, *pk, *local, *remote;
	char op[2] = {dbsync_conflict_remote_command(c), 0};
	int rc = 0;

	if (dbs_exception_pending()) {
		rc = -1; /* an earlier callback failed: stop */
		goto done;
	}
	if (!fn)
		goto done;
	Py_INCREF(fn);
	cols = dbs_conflict_columns(c);
	pk = dbs_conflict_value(c, DBSYNC_SIDE_LOCAL, 0);
	local = dbs_conflict_row(c, DBSYNC_SIDE_LOCAL);
	remote = dbs_conflict_row(c, DBSYNC_SIDE_REMOTE);
	if (cols && pk && local && remote)
		args = Py_BuildValue("(issiiOOOO)", dbsync_conflict_kind(c),
				     dbsync_conflict_table(c), op,
				     dbsync_conflict_is_choice(c),
				     dbsync_conflict_resolution(c), cols, pk,
				     local, remote);
	Py_XDECREF(cols);
	Py_XDECREF(pk);
	Py_XDECREF(local);
	Py_XDECREF(remote);
	if (args)
		r = PyObject_CallObject(fn, args);
	Py_DECREF(fn);
	if (!r) {
		rc = -1;
	} else if (PyLong_Check(r)) {
		rc = (int)PyLong_AsLong(r);
		if (rc == -1 && PyErr_Occurred())
			rc = -1;
	} else {
		int s = dbs_conflict_merge(c, r);
		if (s < 0)
			dbs_raise(s);
		rc = s ? -1 : DBSYNC_RESOLUTION_MERGED;
	}
	if (rc < 0) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_RuntimeError,
					"conflict callback failed");
		dbs_store_exception();
	}
done:
	Py_XDECREF(args);
	Py_XDECREF(r);
	PyGILState_Release(g);
	return rc;
}

static int dbs_register_cb(const char *token, void *payload)
{
	DbsyncServer *w = payload;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *fn = w->on_register, *r;
	int rc = 0;

	if (fn) {
		Py_INCREF(fn);
		r = PyObject_CallFunction(fn, "(z)", token);
		Py_DECREF(fn);
		if (!r) {
			dbs_store_exception();
			rc = DBSYNC_CALLBACK;
		} else {
			int ok = PyObject_IsTrue(r);
			Py_DECREF(r);
			if (ok < 0) {
				dbs_store_exception();
				rc = DBSYNC_CALLBACK;
			} else if (!ok) {
				rc = DBSYNC_REGISTRATION_REFUSED;
			}
		}
	}
	PyGILState_Release(g);
	return rc;
}

/* before: None/True accepts, False or a str vetoes (the str is the
 * reason); after: the result is ignored. */
static int dbs_push_hook(PyObject *fn, int64_t node_id, int64_t version,
			 size_t operations, char *reason, size_t reason_size)
{
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *r;
	int rc = 0;

	if (fn) {
		Py_INCREF(fn);
		r = PyObject_CallFunction(fn, "LLn", (long long)node_id,
					  (long long)version,
					  (Py_ssize_t)operations);
		Py_DECREF(fn);
		if (!r) {
			dbs_store_exception();
			rc = DBSYNC_CALLBACK;
			if (reason && reason_size)
				snprintf(reason, reason_size,
					 "push hook raised an exception");
		} else {
			if (r == Py_False) {
				rc = DBSYNC_PUSH_REJECTED;
				if (reason && reason_size)
					snprintf(reason, reason_size,
						 "rejected by the server");
			} else if (PyUnicode_Check(r)) {
				const char *s = PyUnicode_AsUTF8(r);
				rc = DBSYNC_PUSH_REJECTED;
				if (!s)
					PyErr_Clear();
				if (reason && reason_size)
					snprintf(reason, reason_size, "%s",
						 s ? s : "rejected");
			}
			Py_DECREF(r);
		}
	}
	PyGILState_Release(g);
	return rc;
}

static int dbs_before_cb(int64_t node_id, int64_t version, size_t operations,
			 char *reason, size_t reason_size, void *payload)
{
	DbsyncServer *w = payload;
	return dbs_push_hook(w->before_push, node_id, version, operations,
			     reason, reason_size);
}

static int dbs_after_cb(int64_t node_id, int64_t version, size_t operations,
			char *reason, size_t reason_size, void *payload)
{
	DbsyncServer *w = payload;
	return dbs_push_hook(w->after_push, node_id, version, operations,
			     reason, reason_size);
}

static PyObject *dbs_pk_object(const dbsync_oplist *l, size_t i)
{
	size_t n = 0;
	const void *p;

	switch (dbsync_oplist_pk_type(l, i)) {
	case DBSYNC_TYPE_INTEGER:
		return PyLong_FromLongLong(dbsync_oplist_pk_int(l, i));
	case DBSYNC_TYPE_FLOAT:
		return PyFloat_FromDouble(dbsync_oplist_pk_float(l, i));
	case DBSYNC_TYPE_TEXT:
		p = dbsync_oplist_pk_bytes(l, i, &n);
		return PyUnicode_DecodeUTF8(p ? p : "", (Py_ssize_t)n,
					    "surrogateescape");
	case DBSYNC_TYPE_BLOB:
		p = dbsync_oplist_pk_bytes(l, i, &n);
		return PyBytes_FromStringAndSize(p ? p : "", (Py_ssize_t)n);
	default:
		Py_RETURN_NONE;
	}
}
#else
#define DBS_ALLOW {
#define DBS_END_ALLOW }
#endif

/* Enter/leave a call on a binding handle: refuse a closed or busy one. */
#define DBS_ENTER(w, field, what)                                            \
	do {                                                                 \
		if (!(w)->field)                                             \
			return DBS_CLOSED(what);                             \
		if ((w)->busy)                                               \
			return DBS_IN_USE(what);                             \
		(w)->busy++;                                                 \
	} while (0)
#define DBS_LEAVE(w) ((w)->busy--)
%}

#ifdef SWIGLUA
%{
/* ---- Lua: error values, callback errors ------------------------------
 *
 * An error is a table {code=, name=, message=} whose metatable is the
 * registry's "dbsync.Error" (with __tostring). A Lua error raised inside a
 * callback is kept in the registry (first one wins), the callback returns
 * non-zero, and the wrapper raises the kept value unchanged once the C call
 * has returned. The client's callbacks live in a table {progress=,
 * conflict=} in the client userdata's user value, so a callback that refers
 * to its own client does not keep it from being collected. */
#define DBS_LUA_ERROR_MT "dbsync.Error"
#define DBS_LUA_PENDING "dbsync.pending_error"

/* The state (thread) of the innermost wrapper running on this OS thread:
 * the one callbacks run on. */
static _Thread_local lua_State *dbs_L;

static int dbs_lua_error_tostring(lua_State *L)
{
	const char *name, *msg;
	lua_Integer code;

	lua_getfield(L, 1, "name");
	lua_getfield(L, 1, "message");
	lua_getfield(L, 1, "code");
	name = lua_tostring(L, -3);
	msg = lua_tostring(L, -2);
	code = lua_tointeger(L, -1);
	if (msg && *msg)
		lua_pushfstring(L, "dbsync error %s (%I): %s",
				name ? name : "UNKNOWN", code, msg);
	else
		lua_pushfstring(L, "dbsync error %s (%I)",
				name ? name : "UNKNOWN", code);
	return 1;
}

static void dbs_lua_push_error_mt(lua_State *L)
{
	if (luaL_newmetatable(L, DBS_LUA_ERROR_MT)) {
		lua_pushcfunction(L, dbs_lua_error_tostring);
		lua_setfield(L, -2, "__tostring");
	}
}

static void dbs_lua_push_error(lua_State *L, int code, const char *msg)
{
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, code);
	lua_setfield(L, -2, "code");
	lua_pushstring(L, dbsync_error_name(code));
	lua_setfield(L, -2, "name");
	lua_pushstring(L, msg ? msg : "");
	lua_setfield(L, -2, "message");
	dbs_lua_push_error_mt(L);
	lua_setmetatable(L, -2);
}

static void dbs_lua_clear_pending(lua_State *L)
{
	lua_pushnil(L);
	lua_setfield(L, LUA_REGISTRYINDEX, DBS_LUA_PENDING);
}

static int dbs_lua_pending(lua_State *L)
{
	int t = lua_getfield(L, LUA_REGISTRYINDEX, DBS_LUA_PENDING);
	lua_pop(L, 1);
	return t != LUA_TNIL;
}

/* Keep the error value on top of the stack (popped) for the wrapper. */
static void dbs_lua_store_error(lua_State *L, const char *what)
{
	if (dbs_lua_pending(L)) {
		lua_pop(L, 1); /* the first error wins */
		return;
	}
	if (lua_isnil(L, -1)) { /* error(nil) must still fail the call */
		lua_pop(L, 1);
		dbs_lua_push_error(L, DBSYNC_CALLBACK, what);
	}
	lua_setfield(L, LUA_REGISTRYINDEX, DBS_LUA_PENDING);
}

/* 1 with the error value pushed if the call failed: a kept callback error
 * comes first, then a negative status. */
static int dbs_lua_check(lua_State *L, int code)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, DBS_LUA_PENDING) != LUA_TNIL) {
		dbs_lua_clear_pending(L);
		return 1;
	}
	lua_pop(L, 1);
	if (code < 0) {
		dbs_lua_push_error(L, code, dbs_message());
		return 1;
	}
	return 0;
}

static int dbs_lua_callable(lua_State *L, int idx)
{
	if (lua_isfunction(L, idx))
		return 1;
	if (luaL_getmetafield(L, idx, "__call") != LUA_TNIL) {
		lua_pop(L, 1);
		return 1;
	}
	return 0;
}

/* Defined with the conflict callback and the server hooks, below. */
static lua_State *dbs_lua_hook(const void *w, const char *name);
static int dbs_lua_set_hook(lua_State *L, const char *name, int fn);
static int dbs_lua_conflict_cb(dbsync_conflict *conflict, void *payload);
static void dbs_lua_push_report(lua_State *L, const dbsync_oplist *l);

/* Runs inside a client method's wrapper, whose argument 1 is the client
 * userdata holding the function (field "progress" of its user value).
 * Returning non-zero aborts the call. */
static int dbs_lua_progress_cb(uint64_t bytes_done, uint64_t bytes_total,
			       uint64_t ops_done, uint64_t ops_total,
			       void *payload)
{
	lua_State *L = dbs_L;
	int rc;

	if (!L)
		return 0;
	if (dbs_lua_pending(L))
		return 1;
	L = dbs_lua_hook(payload, "progress");
	if (!L)
		return 0; /* not inside a method of this client */
	lua_pushinteger(L, (lua_Integer)bytes_done);
	lua_pushinteger(L, (lua_Integer)bytes_total);
	lua_pushinteger(L, (lua_Integer)ops_done);
	lua_pushinteger(L, (lua_Integer)ops_total);
	if (lua_pcall(L, 4, 1, 0) != LUA_OK) {
		dbs_lua_store_error(L, "progress callback raised nil");
		return 1;
	}
	rc = lua_isboolean(L, -1) && !lua_toboolean(L, -1); /* false aborts */
	lua_pop(L, 1);
	return rc;
}

static void dbs_lua_push_pk(lua_State *L, const dbsync_oplist *l, size_t i)
{
	size_t n = 0;
	const void *p;

	switch (dbsync_oplist_pk_type(l, i)) {
	case DBSYNC_TYPE_INTEGER:
		lua_pushinteger(L, (lua_Integer)dbsync_oplist_pk_int(l, i));
		break;
	case DBSYNC_TYPE_FLOAT:
		lua_pushnumber(L, dbsync_oplist_pk_float(l, i));
		break;
	case DBSYNC_TYPE_TEXT:
	case DBSYNC_TYPE_BLOB:
		p = dbsync_oplist_pk_bytes(l, i, &n);
		lua_pushlstring(L, p ? p : "", n);
		break;
	default:
		lua_pushnil(L);
	}
}

/* _error_metatable() -> the metatable of every dbsync error value. */
static int dbs_lua_error_metatable(lua_State *L)
{
	dbs_lua_push_error_mt(L);
	return 1;
}

/* _error(code [, message]) -> a new error value (message defaults to the
 * code's dbsync_strerror text). */
static int dbs_lua_new_error(lua_State *L)
{
	int code = (int)luaL_checkinteger(L, 1);
	const char *msg = luaL_optstring(L, 2, dbsync_strerror(code));
	dbs_lua_push_error(L, code, msg);
	return 1;
}
%}
#endif

%include <stdint.i>

/* A status: 0 or a negative DBSYNC_* code, turned into an exception. */
typedef int dbsync_status;
%{
typedef int dbsync_status;
%}

#ifdef SWIGPYTHON
%typemap(out) dbsync_status {
	if (dbs_check($1))
		SWIG_fail;
	$result = SWIG_Py_Void();
}

%typemap(in, numinputs=0) int64_t *OUT_I64 (int64_t tmp = 0) {
	$1 = &tmp;
}
%typemap(argout) int64_t *OUT_I64 {
	$result = SWIG_Python_AppendOutput($result, PyLong_FromLongLong(*$1));
}
%typemap(in, numinputs=0) int *OUT_INT (int tmp = 0) {
	$1 = &tmp;
}
%typemap(argout) int *OUT_INT {
	$result = SWIG_Python_AppendOutput($result, PyLong_FromLong(*$1));
}
%define DBS_OUT_OWNED(TYPE)
%typemap(in, numinputs=0) TYPE **out (TYPE *tmp = NULL) {
	$1 = &tmp;
}
%typemap(argout) TYPE **out {
	$result = SWIG_Python_AppendOutput($result,
		SWIG_NewPointerObj(SWIG_as_voidptr(*$1), $descriptor(TYPE *),
				   SWIG_POINTER_OWN));
}
%enddef
#endif

#ifdef SWIGLUA
/* Lua: a failure raises the error value (see dbs_lua_check). */
%typemap(out) dbsync_status {
	if (dbs_lua_check(L, $1))
		SWIG_fail;
}
/* Every wrapper records its state for the callbacks it may run and forgets
 * a callback error an earlier call left behind. */
%exception {
	lua_State *dbs_outer_L = dbs_L;
	dbs_L = L;
	dbs_lua_clear_pending(L);
	$action
	dbs_L = dbs_outer_L;
}
/* A Lua value passed through as its stack index. */
typedef int dbs_lua_index;
%{
typedef int dbs_lua_index;
typedef int dbs_lua_pushed;
%}
%typemap(in) dbs_lua_index "$1 = $input;"
/* A method that pushed its results itself returns how many. */
typedef int dbs_lua_pushed;
%typemap(out) dbs_lua_pushed "SWIG_arg += $1;"
%typemap(in, numinputs=0) int64_t *OUT_I64 (int64_t tmp = 0) {
	$1 = &tmp;
}
%typemap(argout) int64_t *OUT_I64 {
	lua_pushinteger(L, (lua_Integer)*$1);
	SWIG_arg++;
}
%typemap(in, numinputs=0) int *OUT_INT (int tmp = 0) {
	$1 = &tmp;
}
%typemap(argout) int *OUT_INT {
	lua_pushinteger(L, (lua_Integer)*$1);
	SWIG_arg++;
}
%define DBS_OUT_OWNED(TYPE)
%typemap(in, numinputs=0) TYPE **out (TYPE *tmp = NULL) {
	$1 = &tmp;
}
%typemap(argout) TYPE **out {
	SWIG_NewPointerObj(L, *$1, $descriptor(TYPE *), 1);
	SWIG_arg++;
}
%enddef
%native(_error_metatable) int dbs_lua_error_metatable(lua_State *L);
%native(_error) int dbs_lua_new_error(lua_State *L);
%native(_null) int dbs_lua_null(lua_State *L);
#endif

/* Out-parameters named `out` (and `count`) become return values; the
 * typemaps must precede the types' declarations. */
%apply int64_t *OUT_I64 { int64_t *out };
DBS_OUT_OWNED(DbsyncOplist)
DBS_OUT_OWNED(DbsyncResponse)
%apply int *OUT_INT { int *count };
DBS_OUT_OWNED(DbsyncClient)
DBS_OUT_OWNED(DbsyncServer)

/* ---- constants and free functions straight from the headers ---------- */
#define DBSYNC_STATIC
#define DBSYNC_BEGIN_DECL
#define DBSYNC_END_DECL
#define DBSYNC_EXTERN(type) extern type
%ignore dbsync_error_code;
%include "dbsync/common.h"
%include "dbsync/errors.h"

enum {
	DBSYNC_DIRECTION_BOTH = 0,
	DBSYNC_DIRECTION_PUSH = 1,
	DBSYNC_DIRECTION_PULL = 2
};
enum {
	DBSYNC_TYPE_INTEGER = 1,
	DBSYNC_TYPE_FLOAT = 2,
	DBSYNC_TYPE_TEXT = 3,
	DBSYNC_TYPE_BLOB = 4,
	DBSYNC_TYPE_NULL = 5
};

#ifdef SWIGPYTHON
/* Conflict policies and the answers of the conflict callback. */
%constant int DBSYNC_POLICY_LOCAL_WINS = DBSYNC_POLICY_LOCAL_WINS;
%constant int DBSYNC_POLICY_SERVER_WINS = DBSYNC_POLICY_SERVER_WINS;
%constant int DBSYNC_POLICY_CALLBACK = DBSYNC_POLICY_CALLBACK;
%constant int DBSYNC_RESOLUTION_KEEP_LOCAL = DBSYNC_RESOLUTION_KEEP_LOCAL;
%constant int DBSYNC_RESOLUTION_TAKE_REMOTE = DBSYNC_RESOLUTION_TAKE_REMOTE;
%constant int DBSYNC_RESOLUTION_KEEP_BOTH = DBSYNC_RESOLUTION_KEEP_BOTH;
%constant int DBSYNC_RESOLUTION_MERGED = DBSYNC_RESOLUTION_MERGED;

%inline %{
/* The package's factory: (code, name, message) -> exception instance. */
void _set_error_factory(PyObject *factory)
{
	Py_CLEAR(dbs_error_factory);
	if (factory && factory != Py_None) {
		Py_INCREF(factory);
		dbs_error_factory = factory;
	}
}
%}
#endif

/* ---- Oplist ---------------------------------------------------------- */
%rename(Oplist) DbsyncOplist;
%nodefaultctor DbsyncOplist;
typedef struct {} DbsyncOplist;
%extend DbsyncOplist {
	~DbsyncOplist() { dbsync_oplist_free($self); }
	size_t count() { return dbsync_oplist_count($self); }
	const char *table(size_t i) { return dbsync_oplist_table($self, i); }
	/* "i", "u" or "d" ("p" for a restored parent in a conflict report;
	 * "" out of range) */
	const char *command(size_t i) {
		switch (dbsync_oplist_command($self, i)) {
		case 'i': return "i";
		case 'u': return "u";
		case 'd': return "d";
		case 'p': return "p";
		default: return "";
		}
	}
	/* Conflict reports: dbsync_kind_of_conflict and dbsync_resolution. */
	int conflict_kind(size_t i) { return dbsync_oplist_conflict_kind($self, i); }
	int resolution(size_t i) { return dbsync_oplist_resolution($self, i); }
	int pk_type(size_t i) { return (int)dbsync_oplist_pk_type($self, i); }
	int64_t pk_int(size_t i) { return dbsync_oplist_pk_int($self, i); }
	double pk_float(size_t i) { return dbsync_oplist_pk_float($self, i); }
	int64_t seq(size_t i) { return dbsync_oplist_seq($self, i); }
#ifdef SWIGPYTHON
	/* The primary key as int, float, str or bytes. */
	PyObject *pk(size_t i) { return dbs_pk_object($self, i); }
	/* A unique conflict's constraint columns: a tuple of names (empty for
	 * other entries). */
	PyObject *conflict_columns(size_t i) {
		size_t k, n = dbsync_oplist_conflict_column_count($self, i);
		PyObject *cols = PyTuple_New((Py_ssize_t)n);
		for (k = 0; cols && k < n; k++) {
			const char *name =
				dbsync_oplist_conflict_column($self, i, k);
			PyObject *s = PyUnicode_DecodeUTF8(
				name ? name : "",
				(Py_ssize_t)strlen(name ? name : ""),
				"surrogateescape");
			if (!s) {
				Py_CLEAR(cols);
				break;
			}
			PyTuple_SET_ITEM(cols, (Py_ssize_t)k, s);
		}
		return cols;
	}
	/* [(table, pk, command), ...] in one call. */
	PyObject *to_list() {
		size_t i, n = dbsync_oplist_count($self);
		PyObject *list = PyList_New((Py_ssize_t)n);
		if (!list)
			return NULL;
		for (i = 0; i < n; i++) {
			PyObject *pk = dbs_pk_object($self, i);
			char cmd[2] = {dbsync_oplist_command($self, i), 0};
			PyObject *t = pk ? Py_BuildValue("(sNs)",
				dbsync_oplist_table($self, i), pk, cmd) : NULL;
			if (!t) {
				Py_DECREF(list);
				return NULL;
			}
			PyList_SET_ITEM(list, (Py_ssize_t)i, t);
		}
		return list;
	}
#endif
#ifdef SWIGLUA
	/* A conflict report: {{kind=, table=, pk=, op=, resolution=
	 * [, columns=]}, ...} (see dbs_lua_push_report). */
	dbs_lua_pushed conflicts_table(lua_State *L) {
		dbs_lua_push_report(L, $self);
		return 1;
	}
	/* {{table, pk, op, table=, pk=, op=}, ...} in one call. */
	dbs_lua_pushed to_table(lua_State *L) {
		size_t i, n = dbsync_oplist_count($self);
		luaL_checkstack(L, 4, "dbsync: pending list");
		lua_createtable(L, (int)n, 0);
		for (i = 0; i < n; i++) {
			char cmd[2] = {dbsync_oplist_command($self, i), 0};
			lua_createtable(L, 3, 3);
			lua_pushstring(L, dbsync_oplist_table($self, i));
			lua_pushvalue(L, -1);
			lua_setfield(L, -3, "table");
			lua_rawseti(L, -2, 1);
			dbs_lua_push_pk(L, $self, i);
			lua_pushvalue(L, -1);
			lua_setfield(L, -3, "pk");
			lua_rawseti(L, -2, 2);
			lua_pushstring(L, cmd);
			lua_pushvalue(L, -1);
			lua_setfield(L, -3, "op");
			lua_rawseti(L, -2, 3);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		return 1;
	}
#endif
}

/* ---- Response -------------------------------------------------------- */
%rename(Response) DbsyncResponse;
%nodefaultctor DbsyncResponse;
typedef struct {} DbsyncResponse;
%extend DbsyncResponse {
	~DbsyncResponse() { dbsync_response_free($self); }
	int status() { return dbsync_response_status($self); }
	const char *content_type() {
		return dbsync_response_content_type($self);
	}
	size_t header_count() { return dbsync_response_header_count($self); }
	const char *header_name(size_t i) {
		return dbsync_response_header_name($self, i);
	}
	const char *header_value(size_t i) {
		return dbsync_response_header_value($self, i);
	}
#ifdef SWIGPYTHON
	PyObject *body() {
		size_t n = 0;
		const char *b = dbsync_response_body($self, &n);
		return PyBytes_FromStringAndSize(b ? b : "", (Py_ssize_t)n);
	}
#else
	const char *body() { return dbsync_response_body($self, NULL); }
#endif
#ifdef SWIGLUA
	/* The exact body bytes as a Lua string. */
	dbs_lua_pushed body_bytes(lua_State *L) {
		size_t n = 0;
		const char *b = dbsync_response_body($self, &n);
		lua_pushlstring(L, b ? b : "", n);
		return 1;
	}
#endif
}

#ifdef SWIGLUA
%{
/* ---- Lua: the conflict callback and the conflict report ---------------
 *
 * The conflict function lives in the client's hooks table (field
 * "conflict"), like the progress function. libdbsync calls it inside
 * dbsync_client_pull (push/pull/sync/repair wrappers, whose argument 1 is
 * the client userdata), in the pull's write transaction. The trampoline
 * runs dbs_lua_conflict_call under lua_pcall: building the conflict table,
 * calling the function, reading its answer and setting the merged row all
 * happen there, so no Lua error (the function's, a bad answer's, a memory
 * error) ever unwinds through libdbsync. An error is kept like a progress
 * callback's, the trampoline answers DBSYNC_CALLBACK (the page changes
 * nothing) and the wrapper raises the kept value unchanged. */
#include <stdarg.h>

/* Names of dbsync_kind_of_conflict and dbsync_resolution values, as the
 * Python binding's Conflict has them. */
static const char *dbs_lua_kind_name(int kind)
{
	static const char *const names[] = {
		NULL, "update/update", "update/delete", "delete/update",
		"delete/delete", "dependency", "reversed dependency",
		"insert/insert", "unique"};
	if (kind < 1 || kind >= (int)(sizeof names / sizeof names[0]))
		return "?";
	return names[kind];
}

static const char *dbs_lua_resolution_name(int resolution)
{
	static const char *const names[] = {
		"none", "keep-local", "take-remote", "keep-both", "merged"};
	if (resolution < 0 ||
	    resolution >= (int)(sizeof names / sizeof names[0]))
		return "?";
	return names[resolution];
}

/* dbsync_policy of a policy name, -1 for anything else. */
static int dbs_lua_policy(const char *name)
{
	if (!name)
		return -1;
	if (!strcmp(name, "local-wins"))
		return DBSYNC_POLICY_LOCAL_WINS;
	if (!strcmp(name, "server-wins"))
		return DBSYNC_POLICY_SERVER_WINS;
	if (!strcmp(name, "callback"))
		return DBSYNC_POLICY_CALLBACK;
	return -1;
}

/* dbsync.null: the value that sets a column of a merged row to NULL (a
 * light userdata: the same value in every state). */
static const char dbs_lua_null_tag;

static int dbs_lua_null(lua_State *L)
{
	lua_pushlightuserdata(L, (void *)&dbs_lua_null_tag);
	return 1;
}

/* Push column `k` of one side's row; 0 (nothing pushed) for NULL. */
static int dbs_lua_push_value(lua_State *L, const dbsync_conflict *c,
			      dbsync_side side, size_t k)
{
	size_t n = 0;
	const void *p;

	switch (dbsync_conflict_type(c, side, k)) {
	case DBSYNC_TYPE_INTEGER:
		lua_pushinteger(L, (lua_Integer)dbsync_conflict_int(c, side, k));
		return 1;
	case DBSYNC_TYPE_FLOAT:
		lua_pushnumber(L, dbsync_conflict_float(c, side, k));
		return 1;
	case DBSYNC_TYPE_TEXT:
	case DBSYNC_TYPE_BLOB:
		p = dbsync_conflict_bytes(c, side, k, &n);
		lua_pushlstring(L, p ? p : "", p ? n : 0);
		return 1;
	default:
		return 0;
	}
}

/* One side's row as {column = value} (NULL columns absent), or nil when
 * that side deleted it. */
static void dbs_lua_push_row(lua_State *L, const dbsync_conflict *c,
			     dbsync_side side)
{
	size_t k, n = dbsync_conflict_column_count(c);

	if (!dbsync_conflict_has_row(c, side)) {
		lua_pushnil(L);
		return;
	}
	lua_createtable(L, 0, (int)n);
	for (k = 0; k < n; k++) {
		const char *name = dbsync_conflict_column(c, k);
		if (name && dbs_lua_push_value(L, c, side, k))
			lua_setfield(L, -2, name);
	}
}

/* The conflict as the Lua function sees it. */
static void dbs_lua_push_conflict(lua_State *L, const dbsync_conflict *c)
{
	size_t k, n = dbsync_conflict_column_count(c);
	char op[2] = {dbsync_conflict_remote_command(c), 0};

	lua_createtable(L, 0, 12);
	lua_pushstring(L, dbs_lua_kind_name(dbsync_conflict_kind(c)));
	lua_setfield(L, -2, "kind");
	lua_pushstring(L, dbsync_conflict_table(c));
	lua_setfield(L, -2, "table");
	if (dbs_lua_push_value(L, c, DBSYNC_SIDE_LOCAL, 0))
		lua_setfield(L, -2, "pk");
	lua_pushstring(L, op);
	lua_setfield(L, -2, "op");
	lua_pushboolean(L, dbsync_conflict_is_choice(c));
	lua_setfield(L, -2, "is_choice");
	lua_pushstring(L, dbs_lua_resolution_name(
		dbsync_conflict_resolution(c)));
	lua_setfield(L, -2, "resolution");
	lua_createtable(L, (int)n, 0);
	for (k = 0; k < n; k++) {
		lua_pushstring(L, dbsync_conflict_column(c, k));
		lua_rawseti(L, -2, (lua_Integer)k + 1);
	}
	lua_setfield(L, -2, "columns");
	dbs_lua_push_row(L, c, DBSYNC_SIDE_LOCAL);
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "local");
	lua_setfield(L, -2, "local_row");
	dbs_lua_push_row(L, c, DBSYNC_SIDE_REMOTE);
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "remote");
	lua_setfield(L, -2, "remote_row");
}

/* Raise a dbsync error value (inside dbs_lua_conflict_call only). */
static int dbs_lua_raise(lua_State *L, int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	dbs_lua_push_error(L, code, msg);
	return lua_error(L);
}

static int dbs_lua_same_name(const char *a, const char *b)
{
	/* SQLite matches column names without regard to ASCII case. */
	for (; *a && *b; a++, b++) {
		int x = (unsigned char)*a, y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return 0;
	}
	return *a == *b;
}

/* Set the merged row's columns from the table at index `t`: integers,
 * floats, booleans (1/0), strings (a BLOB when either side holds a BLOB
 * there, or the string has a NUL byte; TEXT otherwise) and dbsync.null.
 * The key may be given only with its own value. */
static void dbs_lua_apply_merged(lua_State *L, dbsync_conflict *c, int t)
{
	size_t n = dbsync_conflict_column_count(c);

	lua_pushnil(L);
	while (lua_next(L, t)) {
		const char *name, *s;
		size_t k, len = 0;
		int r = DBSYNC_OK;

		if (lua_type(L, -2) != LUA_TSTRING)
			dbs_lua_raise(L, DBSYNC_INVALID,
				      "merged row: keys must be column names,"
				      " not %s", luaL_typename(L, -2));
		name = lua_tostring(L, -2);
		for (k = 0; k < n; k++) {
			const char *col = dbsync_conflict_column(c, k);
			if (col && dbs_lua_same_name(col, name))
				break;
		}
		if (k == n)
			dbs_lua_raise(L, DBSYNC_INVALID,
				      "merged row: table %s has no column %s",
				      dbsync_conflict_table(c), name);
		if (k == 0) {
			int same = dbs_lua_push_value(L, c, DBSYNC_SIDE_LOCAL,
						      0) &&
				   lua_rawequal(L, -1, -2);
			if (!same)
				dbs_lua_raise(L, DBSYNC_INVALID,
					      "merged row: the key column %s "
					      "cannot change", name);
			lua_pop(L, 2);
			continue;
		}
		switch (lua_type(L, -1)) {
		case LUA_TNUMBER:
			if (lua_isinteger(L, -1))
				r = dbsync_conflict_set_int(
					c, k, (int64_t)lua_tointeger(L, -1));
			else
				r = dbsync_conflict_set_float(
					c, k, (double)lua_tonumber(L, -1));
			break;
		case LUA_TBOOLEAN:
			r = dbsync_conflict_set_int(c, k, lua_toboolean(L, -1));
			break;
		case LUA_TSTRING:
			s = lua_tolstring(L, -1, &len);
			if (memchr(s, 0, len) ||
			    dbsync_conflict_type(c, DBSYNC_SIDE_LOCAL, k) ==
				    DBSYNC_TYPE_BLOB ||
			    dbsync_conflict_type(c, DBSYNC_SIDE_REMOTE, k) ==
				    DBSYNC_TYPE_BLOB)
				r = dbsync_conflict_set_blob(c, k, s, len);
			else
				r = dbsync_conflict_set_text(c, k, s);
			break;
		case LUA_TLIGHTUSERDATA:
			if (lua_touserdata(L, -1) ==
			    (void *)&dbs_lua_null_tag) {
				r = dbsync_conflict_set_null(c, k);
				break;
			}
			/* fall through */
		default:
			dbs_lua_raise(L, DBSYNC_INVALID,
				      "merged row: the value of %s cannot be "
				      "a %s (dbsync.null sets NULL)", name,
				      luaL_typename(L, -1));
		}
		if (r < 0)
			dbs_lua_raise(L, r, "merged row: cannot set %s: %s",
				      name, dbsync_strerror(r));
		lua_pop(L, 1);
	}
}

/* Under lua_pcall: (fn, conflict light userdata) -> the answer for
 * libdbsync. */
static int dbs_lua_conflict_call(lua_State *L)
{
	dbsync_conflict *c = lua_touserdata(L, 2);
	const char *s;

	lua_settop(L, 2);
	lua_pushvalue(L, 1);
	dbs_lua_push_conflict(L, c);
	lua_call(L, 1, 1);
	switch (lua_type(L, 3)) {
	case LUA_TNIL:
		lua_pushinteger(L, 0);
		return 1;
	case LUA_TSTRING:
		s = lua_tostring(L, 3);
		if (!strcmp(s, "keep-local")) {
			lua_pushinteger(L, DBSYNC_RESOLUTION_KEEP_LOCAL);
			return 1;
		}
		if (!strcmp(s, "take-remote")) {
			lua_pushinteger(L, DBSYNC_RESOLUTION_TAKE_REMOTE);
			return 1;
		}
		break;
	case LUA_TTABLE:
		dbs_lua_apply_merged(L, c, 3);
		lua_pushinteger(L, DBSYNC_RESOLUTION_MERGED);
		return 1;
	default:
		break;
	}
	if (lua_type(L, 3) == LUA_TSTRING)
		lua_pushfstring(L, "\"%s\"", lua_tostring(L, 3));
	else
		lua_pushfstring(L, "a %s", luaL_typename(L, 3));
	return dbs_lua_raise(L, DBSYNC_INVALID,
			     "conflict callback answered %s: the answer must "
			     "be nil, \"keep-local\", \"take-remote\" or a "
			     "table of column values (a merged row)",
			     lua_tostring(L, -1));
}

static int dbs_lua_conflict_cb(dbsync_conflict *conflict, void *payload)
{
	lua_State *L = dbs_L;
	int rc;

	if (!L || dbs_lua_pending(L))
		return DBSYNC_CALLBACK;
	L = dbs_lua_hook(payload, "conflict");
	if (!L)
		return DBSYNC_CALLBACK; /* cannot run it: fail closed */
	lua_pushcfunction(L, dbs_lua_conflict_call);
	lua_insert(L, -2);
	lua_pushlightuserdata(L, conflict);
	if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
		dbs_lua_store_error(L, "conflict callback raised nil");
		return DBSYNC_CALLBACK;
	}
	rc = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return rc;
}

/* A conflict report as {{kind=, table=, pk=, op=, resolution=
 * [, columns = {...}]}, ...}: no resolution (nothing was changed) and the
 * colliding columns for a unique collision. */
static void dbs_lua_push_report(lua_State *L, const dbsync_oplist *l)
{
	size_t i, j, n = dbsync_oplist_count(l);

	luaL_checkstack(L, 6, "dbsync: conflict report");
	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		char cmd[2] = {dbsync_oplist_command(l, i), 0};
		size_t nc = dbsync_oplist_conflict_column_count(l, i);

		lua_createtable(L, 0, 6);
		lua_pushstring(L, dbs_lua_kind_name(
			dbsync_oplist_conflict_kind(l, i)));
		lua_setfield(L, -2, "kind");
		lua_pushstring(L, dbsync_oplist_table(l, i));
		lua_setfield(L, -2, "table");
		dbs_lua_push_pk(L, l, i);
		lua_setfield(L, -2, "pk");
		lua_pushstring(L, cmd);
		lua_setfield(L, -2, "op");
		if (dbsync_oplist_resolution(l, i)) {
			lua_pushstring(L, dbs_lua_resolution_name(
				dbsync_oplist_resolution(l, i)));
			lua_setfield(L, -2, "resolution");
		}
		if (nc || dbsync_oplist_conflict_kind(l, i) ==
				  DBSYNC_CONFLICT_UNIQUE) {
			lua_createtable(L, (int)nc, 0);
			for (j = 0; j < nc; j++) {
				lua_pushstring(L, dbsync_oplist_conflict_column(
					l, i, j));
				lua_rawseti(L, -2, (lua_Integer)j + 1);
			}
			lua_setfield(L, -2, "columns");
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}
%}
#endif

/* ---- Client ---------------------------------------------------------- */
%rename(Client) DbsyncClient;
%nodefaultctor DbsyncClient;
typedef struct {} DbsyncClient;


%extend DbsyncClient {
	~DbsyncClient() {
		dbsync_client_free($self->c);
#ifdef SWIGPYTHON
		Py_CLEAR($self->progress);
		Py_CLEAR($self->conflict);
#endif
		free($self);
	}
	/* Open (creating) the client database at `path`. */
	static dbsync_status open(DbsyncClient **out, const char *path) {
		DbsyncClient *w = calloc(1, sizeof *w);
		int r;
		*out = NULL;
		if (!w)
			return dbs_error(DBSYNC_NOMEM, "out of memory");
		DBS_ALLOW
		r = dbsync_client_open(&w->c, path);
		DBS_END_ALLOW
		if (r < 0) {
			free(w);
			return r;
		}
		*out = w;
		return 0;
	}
	/* Close now (the destructor does it too); later calls raise. */
	dbsync_status close() {
		if ($self->busy)
			return DBS_IN_USE("client");
		dbsync_client_free($self->c);
		$self->c = NULL;
		return 0;
	}
	int closed() { return $self->c == NULL; }
	const char *path() {
		return $self->c ? dbsync_client_path($self->c) : NULL;
	}
	dbsync_status track(const char *table, int direction) {
		int r;
		DBS_ENTER($self, c, "client");
		DBS_ALLOW
		r = dbsync_client_track($self->c, table,
					(dbsync_direction)direction);
		DBS_END_ALLOW
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status untrack(const char *table) {
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_untrack($self->c, table);
		DBS_LEAVE($self);
		return r;
	}
	/* The direction, or -1 when not tracked. */
	dbsync_status is_tracked(int64_t *out, const char *table) {
		dbsync_direction d = DBSYNC_DIRECTION_BOTH;
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_is_tracked($self->c, table, &d);
		DBS_LEAVE($self);
		*out = r == 1 ? (int64_t)d : -1;
		return r < 0 ? r : 0;
	}
	dbsync_status pending(DbsyncOplist **out) {
		int r;
		DBS_ENTER($self, c, "client");
		DBS_ALLOW
		r = dbsync_client_pending(out, $self->c);
		DBS_END_ALLOW
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status conflicts(DbsyncOplist **out) {
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_conflicts(out, $self->c);
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status compact() {
		int r;
		DBS_ENTER($self, c, "client");
		DBS_ALLOW
		r = dbsync_client_compact($self->c);
		DBS_END_ALLOW
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status set_server(const char *url) {
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_set_server($self->c, url);
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status set_ca_file(const char *path) {
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_set_ca_file($self->c, path);
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status set_timeouts(long connect_ms, long request_ms) {
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_set_timeouts($self->c, connect_ms, request_ms);
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status set_page_size(int64_t max_operations) {
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_set_page_size($self->c, max_operations);
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status set_auto_repair(int on) {
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_set_auto_repair($self->c, on);
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status add_header(const char *name, const char *value) {
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_add_header($self->c, name, value);
		DBS_LEAVE($self);
		return r;
	}
#ifdef SWIGPYTHON
	/* fn(bytes_done, bytes_total, ops_done, ops_total); False aborts.
	 * None removes it. */
	dbsync_status on_progress(PyObject *fn) {
		int r;
		DBS_ENTER($self, c, "client");
		if (fn == Py_None)
			fn = NULL;
		if (fn && !PyCallable_Check(fn)) {
			DBS_LEAVE($self);
			return dbs_error(DBSYNC_INVALID,
					 "progress callback is not callable");
		}
		r = dbsync_client_on_progress($self->c,
					      fn ? dbs_progress_cb : NULL,
					      fn ? $self : NULL);
		if (r == 0) {
			Py_XINCREF(fn);
			Py_XSETREF($self->progress, fn);
		}
		DBS_LEAVE($self);
		return r;
	}
	/* fn(kind, table, op, is_choice, resolution, columns, pk, local,
	 * remote) -> 0, 1, 2 or [(column index, value), ...] (see
	 * dbs_conflict_cb): the package's wrapper around the user's function.
	 * None removes it. */
	dbsync_status on_conflict(PyObject *fn) {
		int r;
		DBS_ENTER($self, c, "client");
		if (fn == Py_None)
			fn = NULL;
		if (fn && !PyCallable_Check(fn)) {
			DBS_LEAVE($self);
			return dbs_error(DBSYNC_INVALID,
					 "conflict callback is not callable");
		}
		r = dbsync_client_on_conflict($self->c,
					      fn ? dbs_conflict_cb : NULL,
					      fn ? $self : NULL);
		if (r == 0) {
			Py_XINCREF(fn);
			Py_XSETREF($self->conflict, fn);
		}
		DBS_LEAVE($self);
		return r;
	}
	/* A dbsync_policy for `table` (None: the default of tables without
	 * their own). */
	dbsync_status set_policy(const char *table, int policy) {
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_set_policy($self->c, table,
					     (dbsync_policy)policy);
		DBS_LEAVE($self);
		return r;
	}
#endif
#ifdef SWIGLUA
	/* fn(bytes_done, bytes_total, ops_done, ops_total); false aborts.
	 * nil removes it. Kept in the userdata's user value (argument 1). */
	dbsync_status on_progress(lua_State *L, dbs_lua_index fn) {
		int r, none = lua_isnoneornil(L, fn);
		DBS_ENTER($self, c, "client");
		if (!none && !dbs_lua_callable(L, fn)) {
			DBS_LEAVE($self);
			return dbs_error(DBSYNC_INVALID,
					 "progress callback is not callable");
		}
		r = dbs_lua_set_hook(L, "progress", fn);
		if (r == 0)
			r = dbsync_client_on_progress($self->c,
				none ? NULL : dbs_lua_progress_cb,
				none ? NULL : $self);
		DBS_LEAVE($self);
		return r;
	}
	/* The policy of `table` (nil: the default of tables without their
	 * own) by name: "local-wins", "server-wins" or "callback". */
	dbsync_status lua_set_policy(const char *table, const char *policy) {
		int r, p = dbs_lua_policy(policy);
		DBS_ENTER($self, c, "client");
		if (p < 0) {
			DBS_LEAVE($self);
			return dbs_error(DBSYNC_INVALID,
					 "policy must be \"local-wins\", "
					 "\"server-wins\" or \"callback\"");
		}
		r = dbsync_client_set_policy($self->c, table, (dbsync_policy)p);
		DBS_LEAVE($self);
		return r;
	}
	/* fn(conflict) decides the conflicts of tables under the callback
	 * policy (dbsync.lua sets the default policy); nil removes it. Kept
	 * in the userdata's user value. */
	dbsync_status lua_on_conflict(lua_State *L, dbs_lua_index fn) {
		int r, none = lua_isnoneornil(L, fn);
		DBS_ENTER($self, c, "client");
		if (!none && !dbs_lua_callable(L, fn)) {
			DBS_LEAVE($self);
			return dbs_error(DBSYNC_INVALID,
					 "conflict callback is not callable");
		}
		r = dbs_lua_set_hook(L, "conflict", fn);
		if (r == 0)
			r = dbsync_client_on_conflict($self->c,
				none ? NULL : dbs_lua_conflict_cb,
				none ? NULL : $self);
		DBS_LEAVE($self);
		return r;
	}
	/* Forget the callback functions (after close: the C client is gone). */
	void drop_callbacks(lua_State *L) {
		lua_pushnil(L);
		lua_setiuservalue(L, 1, 1);
	}
#endif
	dbsync_status register_node(const char *token) {
		int r;
		DBS_ENTER($self, c, "client");
#ifdef SWIGPYTHON
		dbs_clear_stored();
#endif
		DBS_ALLOW
		r = dbsync_client_register($self->c, token);
		DBS_END_ALLOW
		DBS_LEAVE($self);
		return r;
	}
	/* The node id, or -1 when not registered. */
	dbsync_status node_id(int64_t *out) {
		int64_t id = 0;
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_node_id($self->c, &id);
		DBS_LEAVE($self);
		*out = r == 1 ? id : -1;
		return r < 0 ? r : 0;
	}
	/* The latest merged server version, or -1 when none yet. */
	dbsync_status latest_version(int64_t *out) {
		int64_t v = 0;
		int r;
		DBS_ENTER($self, c, "client");
		r = dbsync_client_latest_version($self->c, &v);
		DBS_LEAVE($self);
		*out = r == 1 ? v : -1;
		return r < 0 ? r : 0;
	}
	dbsync_status push() {
		int r;
		DBS_ENTER($self, c, "client");
#ifdef SWIGPYTHON
		dbs_clear_stored();
#endif
		DBS_ALLOW
		r = dbsync_client_push($self->c);
		DBS_END_ALLOW
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status pull() {
		int r;
		DBS_ENTER($self, c, "client");
#ifdef SWIGPYTHON
		dbs_clear_stored();
#endif
		DBS_ALLOW
		r = dbsync_client_pull($self->c);
		DBS_END_ALLOW
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status repair() {
		int r;
		DBS_ENTER($self, c, "client");
#ifdef SWIGPYTHON
		dbs_clear_stored();
#endif
		DBS_ALLOW
		r = dbsync_client_repair($self->c);
		DBS_END_ALLOW
		DBS_LEAVE($self);
		return r;
	}
	dbsync_status sync(int max_rounds) {
		int r;
		DBS_ENTER($self, c, "client");
#ifdef SWIGPYTHON
		dbs_clear_stored();
#endif
		DBS_ALLOW
		r = dbsync_client_sync($self->c, max_rounds);
		DBS_END_ALLOW
		DBS_LEAVE($self);
		return r;
	}
	const char *error_message() {
		return $self->c ? dbsync_client_error_message($self->c) : "";
	}
	int error_code() {
		return $self->c ? dbsync_client_error_code($self->c) : 0;
	}
	int sqlite_code() {
		return $self->c ? dbsync_client_sqlite_code($self->c) : 0;
	}
}

#ifdef SWIGLUA
%{
/* ---- Lua: server hooks ------------------------------------------------
 *
 * The hook functions live in a table {register=, before=, after=} in the
 * server userdata's user value, as the progress function does in the
 * client's: a hook that refers to its own server does not keep it from
 * being collected (a registry reference would), and collecting or closing
 * the server drops them.
 *
 * libdbsync calls hooks only from inside dbsync_server_handle, on the
 * calling thread, so they run inside the `handle` wrapper, whose argument 1
 * is the server userdata. Each hook runs under lua_pcall: a Lua error never
 * unwinds through libdbsync's frames. It is kept like a callback error (the
 * hook answers DBSYNC_CALLBACK, so a before-push veto rolls the push back,
 * a registration is refused) and `handle` raises it unchanged once the C
 * call has returned, as Python's binding does. A hook that cannot be run
 * (no Lua state on this thread, another server's call on the stack, an
 * error already kept) fails closed: a veto, a refusal. */
#define DBS_LUA_HOOK_RAISED "push hook raised an error"

/* The hook `name` of `w` (a DbsyncServer, or a DbsyncClient for its
 * callbacks) pushed on the running wrapper's stack, and that state; NULL
 * (nothing pushed) when it cannot be run: `w` must be the wrapper's
 * argument 1. */
static lua_State *dbs_lua_hook(const void *w, const char *name)
{
	lua_State *L = dbs_L;
	swig_lua_userdata *u;

	if (!L || !lua_checkstack(L, 8) || dbs_lua_pending(L))
		return NULL;
	u = lua_touserdata(L, 1);
	if (!u || lua_rawlen(L, 1) < sizeof *u || u->ptr != w)
		return NULL;
	if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
		lua_pop(L, 1);
		return NULL;
	}
	if (lua_getfield(L, -1, name) == LUA_TNIL) {
		lua_pop(L, 2);
		return NULL;
	}
	lua_remove(L, -2);
	return L;
}

/* Call the hook pushed below its `nargs` arguments, leaving one result.
 * Non-zero (nothing left) if it raised: the error is kept for `handle`.
 * While it runs the server refuses calls (BUSY): a nested request would
 * wait on the store transaction its own push holds. */
static int dbs_lua_call_hook(DbsyncServer *w, lua_State *L, int nargs,
			     const char *what)
{
	int st;

	w->hooks_running++;
	st = lua_pcall(L, nargs, 1, 0);
	w->hooks_running--;
	if (st != LUA_OK) {
		dbs_lua_store_error(L, what);
		return 1;
	}
	return 0;
}

static void dbs_lua_reason(char *reason, size_t size, const char *text)
{
	if (reason && size)
		snprintf(reason, size, "%s", text);
}

/* before(node_id, version, operations): nil/true (anything but false or a
 * string) lets the push through; false or a string (the reason) vetoes. */
static int dbs_lua_before_cb(int64_t node_id, int64_t version,
			     size_t operations, char *reason,
			     size_t reason_size, void *payload)
{
	lua_State *L = dbs_lua_hook(payload, "before");
	int rc = 0;

	if (!L) {
		dbs_lua_reason(reason, reason_size, "push hook could not run");
		return DBSYNC_CALLBACK;
	}
	lua_pushinteger(L, (lua_Integer)node_id);
	lua_pushinteger(L, (lua_Integer)version);
	lua_pushinteger(L, (lua_Integer)operations);
	if (dbs_lua_call_hook(payload, L, 3, "push hook raised nil")) {
		dbs_lua_reason(reason, reason_size, DBS_LUA_HOOK_RAISED);
		return DBSYNC_CALLBACK;
	}
	if (lua_type(L, -1) == LUA_TSTRING) {
		rc = DBSYNC_PUSH_REJECTED;
		dbs_lua_reason(reason, reason_size, lua_tostring(L, -1));
	} else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
		rc = DBSYNC_PUSH_REJECTED;
		dbs_lua_reason(reason, reason_size, "rejected by the server");
	}
	lua_pop(L, 1);
	return rc;
}

/* after(node_id, version, operations) once the push is committed; its
 * result is ignored (as libdbsync ignores ours). */
static int dbs_lua_after_cb(int64_t node_id, int64_t version,
			    size_t operations, char *reason,
			    size_t reason_size, void *payload)
{
	lua_State *L = dbs_lua_hook(payload, "after");

	if (!L)
		return 0;
	lua_pushinteger(L, (lua_Integer)node_id);
	lua_pushinteger(L, (lua_Integer)version);
	lua_pushinteger(L, (lua_Integer)operations);
	if (!dbs_lua_call_hook(payload, L, 3, "push hook raised nil"))
		lua_pop(L, 1);
	return 0;
}

/* register(token): a true value accepts, nil/false refuses (403). */
static int dbs_lua_register_cb(const char *token, void *payload)
{
	lua_State *L = dbs_lua_hook(payload, "register");
	int ok;

	if (!L)
		return DBSYNC_REGISTRATION_REFUSED;
	if (token)
		lua_pushstring(L, token);
	else
		lua_pushnil(L);
	if (dbs_lua_call_hook(payload, L, 1,
			      "registration callback raised nil"))
		return DBSYNC_CALLBACK;
	ok = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return ok ? 0 : DBSYNC_REGISTRATION_REFUSED;
}

/* Set (or with nil clear) field `name` of the hooks table in the user value
 * of the server or client userdata at index 1 to the value at `fn`. */
static int dbs_lua_set_hook(lua_State *L, const char *name, int fn)
{
	if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
		lua_pop(L, 1);
		if (lua_isnoneornil(L, fn))
			return 0;
		lua_createtable(L, 0, 3);
		lua_pushvalue(L, -1);
		if (!lua_setiuservalue(L, 1, 1)) {
			lua_pop(L, 2);
			return dbs_error(DBSYNC_ERROR,
					 "userdata has no user value");
		}
	}
	if (lua_isnoneornil(L, fn))
		lua_pushnil(L);
	else
		lua_pushvalue(L, fn);
	lua_setfield(L, -2, name);
	lua_pop(L, 1);
	return 0;
}

/* Refuse a call on a server from inside its own hook. */
#define DBS_LUA_NOT_IN_HOOK(w)                                               \
	do {                                                                 \
		if ((w)->hooks_running)                                      \
			return dbs_error(DBSYNC_BUSY,                        \
					 "server is in use by its own hook"); \
	} while (0)
%}
#endif

/* ---- Server ---------------------------------------------------------- */
%rename(Server) DbsyncServer;
%nodefaultctor DbsyncServer;
typedef struct {} DbsyncServer;

%extend DbsyncServer {
	~DbsyncServer() {
		dbsync_server_free($self->s);
#ifdef SWIGPYTHON
		Py_CLEAR($self->on_register);
		Py_CLEAR($self->before_push);
		Py_CLEAR($self->after_push);
#endif
		free($self);
	}
	/* Open the store ("sqlite:PATH"). */
	static dbsync_status open(DbsyncServer **out, const char *store) {
		DbsyncServer *w = calloc(1, sizeof *w);
		int r;
		*out = NULL;
		if (!w)
			return dbs_error(DBSYNC_NOMEM, "out of memory");
		DBS_ALLOW
		r = dbsync_server_open(&w->s, store);
		DBS_END_ALLOW
		if (r < 0) {
			free(w);
			return r;
		}
		*out = w;
		return 0;
	}
	dbsync_status close() {
		if ($self->busy)
			return DBS_IN_USE("server");
		dbsync_server_free($self->s);
		$self->s = NULL;
		return 0;
	}
	int closed() { return $self->s == NULL; }
	dbsync_status exec_sql(const char *sql) {
		int r;
		if (!$self->s)
			return DBS_CLOSED("server");
		$self->busy++;
		DBS_ALLOW
		r = dbsync_server_exec($self->s, sql);
		DBS_END_ALLOW
		$self->busy--;
		return r;
	}
	dbsync_status track(const char *table) {
		int r;
		if (!$self->s)
			return DBS_CLOSED("server");
		$self->busy++;
		DBS_ALLOW
		r = dbsync_server_track($self->s, table);
		DBS_END_ALLOW
		$self->busy--;
		return r;
	}
	dbsync_status track_all(int *count) {
		int r;
		if (!$self->s)
			return DBS_CLOSED("server");
		$self->busy++;
		DBS_ALLOW
		r = dbsync_server_track_all($self->s, count);
		DBS_END_ALLOW
		$self->busy--;
		return r;
	}
	dbsync_status set_registration(const char *policy) {
		if (!$self->s)
			return DBS_CLOSED("server");
		return dbsync_server_set_registration($self->s, policy);
	}
	dbsync_status trim(int64_t through_version) {
		int r;
		if (!$self->s)
			return DBS_CLOSED("server");
		$self->busy++;
		DBS_ALLOW
		r = dbsync_server_trim($self->s, through_version);
		DBS_END_ALLOW
		$self->busy--;
		return r;
	}
	const char *error_message() {
		return $self->s ? dbsync_server_error_message($self->s) : "";
	}
#ifdef SWIGPYTHON
	/* fn(token) -> truthy accepts, falsy refuses; None removes it. */
	dbsync_status on_register(PyObject *fn) {
		int r;
		if (!$self->s)
			return DBS_CLOSED("server");
		if (fn == Py_None)
			fn = NULL;
		if (fn && !PyCallable_Check(fn))
			return dbs_error(DBSYNC_INVALID,
					 "registration callback is not callable");
		Py_XINCREF(fn);
		Py_XSETREF($self->on_register, fn);
		r = dbsync_server_on_register($self->s,
					      fn ? dbs_register_cb : NULL,
					      fn ? $self : NULL);
		return r;
	}
	/* before(node_id, version, operations) -> None/True accepts, False
	 * or a str (the reason) vetoes; after(node_id, version, operations).
	 * Either may be None. */
	dbsync_status on_push(PyObject *before, PyObject *after) {
		if (!$self->s)
			return DBS_CLOSED("server");
		if (before == Py_None)
			before = NULL;
		if (after == Py_None)
			after = NULL;
		if ((before && !PyCallable_Check(before)) ||
		    (after && !PyCallable_Check(after)))
			return dbs_error(DBSYNC_INVALID,
					 "push hook is not callable");
		Py_XINCREF(before);
		Py_XSETREF($self->before_push, before);
		Py_XINCREF(after);
		Py_XSETREF($self->after_push, after);
		return dbsync_server_on_push($self->s,
					     before ? dbs_before_cb : NULL,
					     after ? dbs_after_cb : NULL,
					     (before || after) ? $self : NULL);
	}
	/* headers: a sequence of (name, value) str pairs; body: bytes. */
	dbsync_status handle(DbsyncResponse **out, const char *method,
			     const char *path, PyObject *headers,
			     PyObject *body) {
		PyObject *seq = NULL;
		const char **names = NULL, **values = NULL;
		char *data = NULL;
		Py_ssize_t i, n = 0, len = 0;
		int r = DBSYNC_INVALID;

		*out = NULL;
		if (!$self->s)
			return DBS_CLOSED("server");
		if (PyBytes_AsStringAndSize(body, &data, &len) < 0) {
			PyErr_Clear();
			return dbs_error(DBSYNC_INVALID, "body must be bytes");
		}
		seq = PySequence_Fast(headers, "headers must be a sequence");
		if (!seq) {
			PyErr_Clear();
			return dbs_error(DBSYNC_INVALID,
					 "headers must be a sequence of "
					 "(name, value) pairs");
		}
		n = PySequence_Fast_GET_SIZE(seq);
		names = calloc((size_t)n + 1, sizeof *names);
		values = calloc((size_t)n + 1, sizeof *values);
		if (!names || !values) {
			r = dbs_error(DBSYNC_NOMEM, "out of memory");
			goto done;
		}
		for (i = 0; i < n; i++) {
			PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
			PyObject *k, *v;
			if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
			    !PyUnicode_Check(k = PyTuple_GET_ITEM(pair, 0)) ||
			    !PyUnicode_Check(v = PyTuple_GET_ITEM(pair, 1)) ||
			    !(names[i] = PyUnicode_AsUTF8(k)) ||
			    !(values[i] = PyUnicode_AsUTF8(v))) {
				PyErr_Clear();
				r = dbs_error(DBSYNC_INVALID,
					      "headers must be (str, str) "
					      "pairs");
				goto done;
			}
		}
		dbs_clear_stored();
		$self->busy++;
		/* The strings stay alive: seq and body are referenced. */
		Py_BEGIN_ALLOW_THREADS
		r = dbsync_server_handle(out, $self->s, method, path, names,
					 values, (size_t)n, data, (size_t)len);
		Py_END_ALLOW_THREADS
		$self->busy--;
		if (dbs_exception_pending() && *out) {
			dbsync_response_free(*out);
			*out = NULL;
		}
	done:
		free(names);
		free(values);
		Py_XDECREF(seq);
		return r;
	}
#endif
#ifdef SWIGLUA
	/* fn(token) -> a true value accepts, nil/false refuses; nil removes
	 * it. Kept in the userdata's user value (argument 1). */
	dbsync_status on_register(lua_State *L, dbs_lua_index fn) {
		int r, none = lua_isnoneornil(L, fn);
		if (!$self->s)
			return DBS_CLOSED("server");
		DBS_LUA_NOT_IN_HOOK($self);
		if (!none && !dbs_lua_callable(L, fn))
			return dbs_error(DBSYNC_INVALID,
					 "registration callback is not "
					 "callable");
		r = dbs_lua_set_hook(L, "register", fn);
		if (r == 0)
			r = dbsync_server_on_register($self->s,
				none ? NULL : dbs_lua_register_cb,
				none ? NULL : $self);
		return r;
	}
	/* before(node_id, version, operations) -> nil/true accepts, false or
	 * a string (the reason) vetoes; after(node_id, version, operations).
	 * Either may be nil. Kept in the userdata's user value. */
	dbsync_status on_push(lua_State *L, dbs_lua_index before,
			      dbs_lua_index after) {
		int r, nb = lua_isnoneornil(L, before),
		       na = lua_isnoneornil(L, after);
		if (!$self->s)
			return DBS_CLOSED("server");
		DBS_LUA_NOT_IN_HOOK($self);
		if ((!nb && !dbs_lua_callable(L, before)) ||
		    (!na && !dbs_lua_callable(L, after)))
			return dbs_error(DBSYNC_INVALID,
					 "push hook is not callable");
		r = dbs_lua_set_hook(L, "before", before);
		if (r == 0)
			r = dbs_lua_set_hook(L, "after", after);
		if (r == 0)
			r = dbsync_server_on_push($self->s,
				nb ? NULL : dbs_lua_before_cb,
				na ? NULL : dbs_lua_after_cb,
				(nb && na) ? NULL : $self);
		return r;
	}
	/* Whether one of its hooks is running (its calls then raise BUSY). */
	int in_hook() { return $self->hooks_running > 0; }
	/* Forget the hook functions (after close: the C server is gone). */
	void drop_hooks(lua_State *L) {
		lua_pushnil(L);
		lua_setiuservalue(L, 1, 1);
	}
	/* headers: {{name, value}, ...} and/or {name = value}; body: a
	 * string (nil for none). The strings stay alive: the tables are
	 * arguments of the call. A hook's error comes out unchanged: the
	 * response to the request it was answering is dropped. */
	dbsync_status handle(DbsyncResponse **out, lua_State *L,
			     const char *method, const char *path,
			     dbs_lua_index headers, dbs_lua_index body) {
		const char **names = NULL, **values = NULL;
		const char *data = "";
		size_t n = 0, cap = 0, len = 0;
		int r = DBSYNC_INVALID;

		*out = NULL;
		if (!$self->s)
			return DBS_CLOSED("server");
		DBS_LUA_NOT_IN_HOOK($self);
		if (lua_type(L, body) == LUA_TSTRING)
			data = lua_tolstring(L, body, &len);
		else if (!lua_isnoneornil(L, body))
			return dbs_error(DBSYNC_INVALID,
					 "body must be a string");
		if (!lua_isnoneornil(L, headers)) {
			if (!lua_istable(L, headers))
				return dbs_error(DBSYNC_INVALID,
						 "headers must be a table");
			lua_pushnil(L);
			while (lua_next(L, headers))
				lua_pop(L, 1), cap++;
		}
		names = calloc(cap + 1, sizeof *names);
		values = calloc(cap + 1, sizeof *values);
		if (!names || !values) {
			r = dbs_error(DBSYNC_NOMEM, "out of memory");
			goto done;
		}
		if (cap) {
			lua_pushnil(L);
			while (lua_next(L, headers)) {
				const char *k = NULL, *v = NULL;
				if (lua_type(L, -2) == LUA_TSTRING &&
				    lua_type(L, -1) == LUA_TSTRING) {
					k = lua_tostring(L, -2);
					v = lua_tostring(L, -1);
				} else if (lua_type(L, -2) == LUA_TNUMBER &&
					   lua_istable(L, -1)) {
					lua_rawgeti(L, -1, 1);
					lua_rawgeti(L, -2, 2);
					if (lua_type(L, -2) == LUA_TSTRING &&
					    lua_type(L, -1) == LUA_TSTRING) {
						k = lua_tostring(L, -2);
						v = lua_tostring(L, -1);
					}
					lua_pop(L, 2);
				}
				if (!k || !v || n >= cap) {
					lua_pop(L, 2);
					r = dbs_error(DBSYNC_INVALID,
						      "headers must be "
						      "{name, value} pairs "
						      "or name = value "
						      "strings");
					goto done;
				}
				names[n] = k;
				values[n] = v;
				n++;
				lua_pop(L, 1);
			}
		}
		$self->busy++;
		r = dbsync_server_handle(out, $self->s, method, path, names,
					 values, n, data, len);
		$self->busy--;
		if (dbs_lua_pending(L) && *out) {
			dbsync_response_free(*out);
			*out = NULL;
		}
	done:
		free(names);
		free(values);
		return r;
	}
#endif
}
