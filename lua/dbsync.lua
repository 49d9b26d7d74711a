--- dbsync: offline-first sync of SQLite databases with a central server.
--
--   local dbsync = require("dbsync")
--   local c = dbsync.Client("app.db", "http://127.0.0.1:8080")
--   c:track("city"); if not c.registered then c:register() end; c:sync()
--
-- The thin idiomatic layer over the private SWIG module `dbsync_core`
-- (generated from bindings/dbsync.i). Every failure raises an error value:
-- a table {code=, name=, message=} with dbsync.Error as its metatable (so
-- tostring() works), e.g.
--
--   local ok, err = pcall(c.push, c)
--   if not ok and err.name == "PULL_REQUIRED" then c:pull() end
--
-- An error raised inside a callback (progress, conflict, server hooks)
-- comes out of the call that ran it unchanged.

local core = require("dbsync_core")

local M = {}

M.VERSION = core.dbsync_version()
M.SQLITE_VERSION = core.dbsync_sqlite_version()

--- The metatable of every error value (`getmetatable(err) == dbsync.Error`).
M.Error = core._error_metatable()

--- The value that sets a column of a merged row to NULL (see
-- Client:on_conflict); rows handed to Lua leave NULL columns out.
M.null = core._null()

--- Error codes by name (`dbsync.codes.PULL_REQUIRED == -12`) and names by
-- code (`dbsync.codes[-12] == "PULL_REQUIRED"`), read from the library.
M.codes = {}
do
  local code = 0
  while true do
    local name = core.dbsync_error_name(code)
    if name == "UNKNOWN" then break end
    M.codes[name] = code
    M.codes[code] = name
    code = code - 1
  end
end

--- Whether `v` is a dbsync error value.
function M.is_error(v)
  return type(v) == "table" and getmetatable(v) == M.Error
end

--- The one-line description of an error code.
function M.strerror(code)
  return core.dbsync_strerror(code)
end

local function raise(name, message)
  error(core._error(M.codes[name], message), 0)
end
M._raise = raise

local function check_string(value, what, optional)
  if value == nil and optional then return nil end
  if type(value) ~= "string" then
    raise("INVALID", string.format("%s must be a string, not %s", what,
                                   type(value)))
  end
  return value
end

local function check_integer(value, what)
  if math.type(value) ~= "integer" then
    raise("INVALID", string.format("%s must be an integer, not %s", what,
                                   math.type(value) or type(value)))
  end
  return value
end

-- A function, or a value whose metatable has __call (nil if `optional`).
local function check_callable(value, what, optional)
  if value == nil and optional then return nil end
  if type(value) ~= "function" then
    local mt = getmetatable(value)
    if type(mt) ~= "table" or mt.__call == nil then
      raise("INVALID", string.format("%s must be a function, not %s", what,
                                     type(value)))
    end
  end
  return value
end

local DIRECTIONS = {
  both = core.DBSYNC_DIRECTION_BOTH,
  push = core.DBSYNC_DIRECTION_PUSH,
  pull = core.DBSYNC_DIRECTION_PULL,
}
local DIRECTION_NAMES = {}
for k, v in pairs(DIRECTIONS) do DIRECTION_NAMES[v] = k end

-- The handle of a Client/Server object (raises on anything else, e.g.
-- `c.push()` instead of `c:push()`).
local function handle(self, class, what)
  if type(self) ~= "table" or getmetatable(self) ~= class then
    raise("INVALID", string.format(
      "%s method called on %s (use %s:method(), not %s.method())",
      what, type(self), what:lower(), what:lower()))
  end
  return self._h
end

-- ---------------------------------------------------------------- Client

--- A local SQLite database that synchronizes with a dbsync server.
-- `dbsync.Client(path [, server_url [, options]])` or
-- `dbsync.Client{path=, server=, ca_file=, timeout=, page_size=}`;
-- options: ca_file (PEM), timeout (seconds), page_size (operations per
-- pull page), auto_repair (boolean). Closed by c:close(), by a `<close>`
-- variable going out of scope, or when collected.
local Client = {}
M.Client = Client
local client_methods = {}
local client_props = {}

local function client_new(path, server, opts)
  if type(path) == "table" and server == nil and opts == nil then
    opts = path
    path, server = opts.path, opts.server
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    raise("INVALID", "options must be a table, not " .. type(opts))
  end
  check_string(path, "path")
  check_string(server, "server URL", true)
  local h = core.Client.open(path)
  local self = setmetatable({ _h = h }, Client)
  local ok, err = pcall(function()
    if server ~= nil then h:set_server(server) end
    if opts.ca_file ~= nil then
      h:set_ca_file(check_string(opts.ca_file, "ca_file"))
    end
    if opts.timeout ~= nil then
      if type(opts.timeout) ~= "number" or opts.timeout <= 0 then
        raise("INVALID", "timeout must be a positive number of seconds")
      end
      local ms = math.max(1, math.floor(opts.timeout * 1000))
      h:set_timeouts(ms, ms)
    end
    if opts.page_size ~= nil then
      h:set_page_size(check_integer(opts.page_size, "page_size"))
    end
    if opts.auto_repair ~= nil then
      h:set_auto_repair(opts.auto_repair and 1 or 0)
    end
  end)
  if not ok then
    h:close()
    error(err, 0)
  end
  return self
end

setmetatable(Client, {
  __call = function(_, ...) return client_new(...) end,
})

Client.__index = function(self, key)
  local m = client_methods[key]
  if m ~= nil then return m end
  local p = client_props[key]
  if p ~= nil then return p(self) end
  return nil
end

Client.__tostring = function(self)
  if self._h:closed() ~= 0 then return "dbsync.Client (closed)" end
  return string.format("dbsync.Client(%q)", self._h:path())
end

--- Close the database now (collection does it too); later calls raise an
-- INVALID error. Closing twice is harmless; the callbacks are dropped.
function client_methods.close(self)
  local h = handle(self, Client, "Client")
  h:close()
  h:drop_callbacks()
end
Client.__close = client_methods.close
Client.__name = "dbsync.Client"

--- Whether close() was called.
function client_props.closed(self) return self._h:closed() ~= 0 end
function client_methods.is_closed(self)
  return handle(self, Client, "Client"):closed() ~= 0
end

--- The database path (nil once closed).
function client_methods.path(self)
  return handle(self, Client, "Client"):path()
end

--- Track `table` ("both" (default), "push" or "pull").
function client_methods.track(self, table, direction)
  local h = handle(self, Client, "Client")
  check_string(table, "table")
  direction = direction or "both"
  local d = DIRECTIONS[direction]
  if d == nil then
    raise("INVALID", "direction must be 'both', 'push' or 'pull', not "
                     .. tostring(direction))
  end
  h:track(table, d)
end

--- Stop tracking `table` (its pending operations are dropped).
function client_methods.untrack(self, table)
  handle(self, Client, "Client"):untrack(check_string(table, "table"))
end

--- The direction `table` is tracked in, or nil.
function client_methods.tracked(self, table)
  local d = handle(self, Client, "Client"):is_tracked(
    check_string(table, "table"))
  if d < 0 then return nil end
  return DIRECTION_NAMES[d] or "both"
end

--- The operations not yet acknowledged by the server, at most one per row,
-- in push order: { {table, pk, op, table=, pk=, op=}, ... } with op "i",
-- "u" or "d".
function client_methods.pending(self)
  return handle(self, Client, "Client"):pending():to_table()
end

-- The conflict report entries a failed call took from the library (to
-- attach a unique collision's to its error) are kept in `_report` until
-- conflicts() hands them over with the rest.
local function take_report(self, h)
  local list = h:conflicts():conflicts_table()
  local kept = rawget(self, "_report")
  if kept == nil then return list end
  rawset(self, "_report", nil)
  for _, c in ipairs(list) do kept[#kept + 1] = c end
  return kept
end

--- The conflicts this client's pulls met since the last call (each is
-- reported once), in the order met: { {kind=, table=, pk=, op=,
-- resolution=}, ... }. kind: "update/update", "update/delete",
-- "delete/update", "delete/delete", "dependency", "reversed dependency",
-- "insert/insert", "unique"; op: the remote operation ("i", "u", "d", or
-- "p" for a parent restored from the pull); resolution: "keep-local",
-- "take-remote", "keep-both", "merged" (the conflict callback's row); a
-- unique collision (a pull that stopped before changing anything) has no
-- resolution but `columns` (the colliding constraint's columns), and names
-- the local row that holds the values.
function client_methods.conflicts(self)
  return take_report(self, handle(self, Client, "Client"))
end

-- Run h:<name>(...); a UNIQUE_CONFLICT error gets `conflicts`: the unique
-- collisions of the report ({kind = "unique", table=, pk=, columns=, ...}),
-- which stay in the report for conflicts() too. Any other error (a
-- callback's included) goes on unchanged.
local function run(self, name, ...)
  local h = handle(self, Client, "Client")
  local ok, err = pcall(h[name], h, ...)
  if ok then return end
  if M.is_error(err) and err.code == M.codes.UNIQUE_CONFLICT
     and err.conflicts == nil then
    local unique = {}
    local got, list = pcall(take_report, self, h)
    if got then
      for _, c in ipairs(list) do
        if c.kind == "unique" then unique[#unique + 1] = c end
      end
      rawset(self, "_report", list)
    end
    err.conflicts = unique
  end
  error(err, 0)
end

local POLICIES = { ["local-wins"] = true, ["server-wins"] = true,
                   callback = true }

--- The conflict policy of `table` (nil: the default of every table without
-- its own, which then also overrides the "callback" default on_conflict
-- brings): "local-wins" (the default), "server-wins" or "callback" (the
-- on_conflict function decides; local-wins while none is set). Kept for
-- this client object, not in the database; the table need not be tracked
-- yet.
function client_methods.set_policy(self, table, policy)
  local h = handle(self, Client, "Client")
  check_string(table, "table", true)
  if not POLICIES[policy] then
    raise("INVALID", "policy must be 'local-wins', 'server-wins' or "
                     .. "'callback', not " .. tostring(policy))
  end
  h:lua_set_policy(table, policy)
  if table == nil then rawset(self, "_default_policy", policy) end
end

--- fn(conflict) decides the conflicts a pull meets in tables under the
-- "callback" policy, which setting it makes the default (tables with a
-- policy of their own, and a default set by set_policy(nil, ...), keep
-- theirs); nil removes it and makes "local-wins" the default again. `conflict`: {kind=, table=, pk=, op=, is_choice=,
-- resolution=, columns=, ["local"]=, remote=} (see docs/lua.md); the rows
-- are tables keyed by column name, nil for a side that deleted the row
-- (also as local_row/remote_row). fn answers nil (the default resolution),
-- "keep-local", "take-remote" or a table of column values: the merged row
-- (starting as the local row; dbsync.null for NULL; the key cannot change).
-- An error raised by fn (or a bad answer, as an INVALID error) aborts the
-- pull, whose page then changes nothing, and comes out of pull()/sync()
-- unchanged. fn runs inside the pull's transaction: calls on this client
-- from it raise BUSY.
function client_methods.on_conflict(self, fn)
  local h = handle(self, Client, "Client")
  h:lua_on_conflict(check_callable(fn, "conflict callback", true))
  h:lua_set_policy(nil, rawget(self, "_default_policy")
                        or (fn == nil and "local-wins" or "callback"))
end

--- Rewrite the pending log in its compressed form.
function client_methods.compact(self)
  handle(self, Client, "Client"):compact()
end

--- The server's http:// or https:// base URL.
function client_methods.set_server(self, url)
  handle(self, Client, "Client"):set_server(check_string(url, "url"))
end

--- An extra header sent with every request.
function client_methods.add_header(self, name, value)
  handle(self, Client, "Client"):add_header(check_string(name, "name"),
                                            check_string(value, "value"))
end

--- Whether sync() repairs by itself on REPAIR_REQUIRED (default on).
function client_methods.set_auto_repair(self, on)
  handle(self, Client, "Client"):set_auto_repair(on and 1 or 0)
end

--- fn(bytes_done, bytes_total, ops_done, ops_total) during transfers;
-- returning false aborts the call (CALLBACK error); an error raised by fn
-- comes out of the call unchanged. nil removes it.
function client_methods.on_progress(self, fn)
  local h = handle(self, Client, "Client")
  if fn ~= nil and type(fn) ~= "function" then
    local mt = getmetatable(fn)
    if type(mt) ~= "table" or mt.__call == nil then
      raise("INVALID", "progress callback must be a function, not "
                       .. type(fn))
    end
  end
  h:on_progress(fn)
end

--- Register with the server (sending `token` if its policy wants one);
-- returns the new node id.
function client_methods.register(self, token)
  local h = handle(self, Client, "Client")
  h:register_node(check_string(token, "token", true))
  return self:node_id()
end

--- This node's id, or nil before register().
function client_methods.node_id(self)
  local n = handle(self, Client, "Client"):node_id()
  if n < 0 then return nil end
  return n
end

--- c.registered: whether register() succeeded on this database.
function client_props.registered(self)
  return self:node_id() ~= nil
end

--- The latest server version fully merged here, or nil.
function client_methods.latest_version(self)
  local v = handle(self, Client, "Client"):latest_version()
  if v < 0 then return nil end
  return v
end

--- Push the pending operations (PULL_REQUIRED if the server moved on).
function client_methods.push(self)
  run(self, "push")
end

--- Fetch and merge every version after this node's. A unique collision
-- raises UNIQUE_CONFLICT with `conflicts` (see conflicts()).
function client_methods.pull(self)
  run(self, "pull")
end

--- Push; on PULL_REQUIRED pull and push again (`max_rounds`, default 5).
function client_methods.sync(self, max_rounds)
  handle(self, Client, "Client")
  if max_rounds ~= nil then check_integer(max_rounds, "max_rounds") end
  run(self, "sync", max_rounds or 0)
end

--- Replace the tracked tables' contents with the server's copy.
function client_methods.repair(self)
  run(self, "repair")
end

--- The message of the most recent failed call ("" if it worked).
function client_methods.error_message(self)
  return handle(self, Client, "Client"):error_message()
end

-- ---------------------------------------------------------------- Server

--- The central database; answers the dbsync HTTP API through :handle().
-- `dbsync.Server(store [, registration])`: store "sqlite:PATH" (a bare path
-- means a SQLite file), registration "open", "closed" (default) or
-- "token:SECRET".
local Server = {}
M.Server = Server
local server_methods = {}
Server.__index = server_methods
Server.__name = "dbsync.Server"
Server.__tostring = function(self)
  return self._h:closed() ~= 0 and "dbsync.Server (closed)" or "dbsync.Server"
end

setmetatable(Server, {
  __call = function(_, store, registration)
    if type(store) == "table" and registration == nil then
      store, registration = store.store, store.registration
    end
    check_string(store, "store")
    check_string(registration, "registration", true)
    if not store:match("^[%w_]+:") then store = "sqlite:" .. store end
    local h = core.Server.open(store)
    local ok, err = pcall(h.set_registration, h, registration or "closed")
    if not ok then
      h:close()
      error(err, 0)
    end
    return setmetatable({ _h = h }, Server)
  end,
})

-- The handle of a Server object, refusing calls from inside one of its own
-- hooks (BUSY): such a call would wait on the transaction of the push that
-- is running the hook.
local function server_handle(self)
  local h = handle(self, Server, "Server")
  if h:in_hook() ~= 0 then
    raise("BUSY", "server is in use by its own hook")
  end
  return h
end

--- Close the store; later calls raise INVALID. Closing twice is harmless;
-- the hooks are dropped.
function server_methods.close(self)
  local h = server_handle(self)
  h:close()
  h:drop_hooks()
end
Server.__close = server_methods.close

function server_methods.is_closed(self)
  return handle(self, Server, "Server"):closed() ~= 0
end

--- Run SQL (DDL, several statements allowed) in one transaction.
function server_methods.exec(self, sql)
  server_handle(self):exec_sql(check_string(sql, "sql"))
end

--- Synchronize `table` (direct writes to it are versioned).
function server_methods.track(self, table)
  server_handle(self):track(check_string(table, "table"))
end

--- Track every table with a single-column primary key; returns the count.
function server_methods.track_all(self)
  return server_handle(self):track_all()
end

--- "open", "closed" or "token:SECRET".
function server_methods.set_registration(self, policy)
  server_handle(self):set_registration(
    check_string(policy, "registration"))
end

--- Registration policy: `fn(token)` is asked about each node the policy
-- ("open", "token:SECRET") admits, with the token the node sent (nil if
-- none); a true value accepts it, nil or false refuses it (the node gets
-- REGISTRATION_REFUSED). nil removes it.
--
-- An error raised by a hook (here or in on_push) comes out of the
-- handle() call that ran it, unchanged; that request gets no response
-- (a host answers 500), and a registration is refused.
function server_methods.on_register(self, fn)
  server_handle(self):on_register(
    check_callable(fn, "registration callback", true))
end

--- Push hooks, each called `hook(node_id, version, operations)`:
-- `before` inside the push's transaction, after the base check and before
-- any row is written (version: the server's latest, which the push is
-- based on): nil or true lets the push through, false or a string (the
-- reason) vetoes it and the node gets PUSH_REJECTED with that reason as
-- its message. `after` once the push is committed (version: the new one;
-- its result is ignored). Either may be nil, which removes it; also
-- `s:on_push{before = fn, after = fn}`. An error raised by `before` rolls
-- the push back; one raised by `after` comes after the commit. Either
-- comes out of handle() unchanged.
function server_methods.on_push(self, before, after)
  local h = server_handle(self)
  if type(before) == "table" and after == nil
     and getmetatable(before) == nil then
    before, after = before.before, before.after
  end
  h:on_push(check_callable(before, "before-push hook", true),
            check_callable(after, "after-push hook", true))
end

--- Forget the operations of versions up to `version`.
function server_methods.trim(self, version)
  server_handle(self):trim(check_integer(version, "version"))
end

--- Answer one HTTP request of the dbsync API. `headers`: {{name, value},
-- ...} and/or {name = value}; `body`: a string (or nil). Returns status,
-- headers, body; headers is an array of {name, value} pairs (Content-Type
-- first) that is also indexed by name (`headers["Content-Type"]`).
-- Protocol errors are responses, not Lua errors; an error raised by one of
-- the server's hooks comes out unchanged (see on_register).
function server_methods.handle(self, method, path, headers, body)
  local h = server_handle(self)
  check_string(method, "method")
  check_string(path, "path")
  if headers ~= nil and type(headers) ~= "table" then
    raise("INVALID", "headers must be a table, not " .. type(headers))
  end
  if body ~= nil and type(body) ~= "string" then
    raise("INVALID", "body must be a string, not " .. type(body))
  end
  local resp = h:handle(method, path, headers or {}, body)
  local out = { { "Content-Type", resp:content_type() } }
  out["Content-Type"] = resp:content_type()
  for i = 0, resp:header_count() - 1 do
    local name, value = resp:header_name(i), resp:header_value(i)
    out[#out + 1] = { name, value }
    out[name] = value
  end
  -- (SWIG hands C ints to Lua as floats)
  return math.tointeger(resp:status()), out, resp:body_bytes()
end

return M
