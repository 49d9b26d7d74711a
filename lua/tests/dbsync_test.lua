-- End-to-end tests of the Lua binding against a real dbsyncd on loopback.
--
-- Run by ctest (lua/CMakeLists.txt) with LUA_CPATH/LUA_PATH pointing at the
-- build and source trees and DBSYNC_TEST_DBSYNCD at the server binary.
-- Client databases get their schema and rows through the sqlite3 shell
-- (DBSYNC_TEST_SQLITE3, else `sqlite3` on PATH), as an application's own
-- connection would write them. Prints one line per check and
-- "N passed, N failed" last; exits non-zero when any check fails.

-- The helpers beside this script (harness.lua).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;"
               .. package.path

local dbsync = require("dbsync")

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS city(id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS note(id INTEGER PRIMARY KEY, body TEXT);
]]

-- ------------------------------------------------------------ harness

local H = require("harness")
local check, expect, eq, raises = H.check, H.expect, H.eq, H.raises
local sql, rows, uid = H.sql, H.rows, H.uid

-- ------------------------------------------------------------ setup

local TMP = H.tmpdir()
local stop_server = function() end

local function start_server()
  local url
  url, stop_server = H.start_dbsyncd(TMP, SCHEMA, "city,note")
  return url
end

local function new_db(name)
  local path = TMP .. "/" .. name .. ".db"
  sql(path, SCHEMA)
  return path
end

local function insert(db, name, key)
  key = key or uid()
  sql(db, string.format("INSERT INTO city VALUES ('%s', '%s')", key, name))
  return key
end

-- ------------------------------------------------------------ checks

local function run(url)
  local server_db = TMP .. "/server.db"
  local a_db, b_db = new_db("a"), new_db("b")
  local a, b

  check("module: codes, Error metatable, version", function()
    eq(dbsync.codes.PULL_REQUIRED, -12, "PULL_REQUIRED")
    eq(dbsync.codes[-12], "PULL_REQUIRED", "name of -12")
    eq(dbsync.codes.NOT_FOUND, -21, "NOT_FOUND")
    eq(dbsync.codes.OK, 0, "OK")
    expect(type(dbsync.VERSION) == "string" and dbsync.VERSION ~= "")
    expect(dbsync.strerror(-12) ~= "", "strerror")
    expect(type(dbsync.Error.__tostring) == "function", "__tostring")
  end)

  check("open two clients, track, not registered yet", function()
    a = dbsync.Client(a_db, url, { timeout = 10 })
    b = dbsync.Client { path = b_db, server = url, timeout = 10,
                        page_size = 2 }
    a:track("city"); a:track("note")
    b:track("city"); b:track("note", "both")
    eq(a:tracked("city"), "both", "tracked")
    eq(a.registered, false, "registered")
    eq(a:node_id(), nil, "node_id")
    eq(a:latest_version(), nil, "latest_version")
    expect(tostring(a):find("a.db", 1, true), "tostring: %s", tostring(a))
  end)

  check("register", function()
    local na, nb = a:register(), b:register()
    expect(math.type(na) == "integer" and math.type(nb) == "integer")
    expect(na ~= nb, "distinct node ids")
    eq(a.registered, true, "registered")
    eq(a:node_id(), na, "node_id")
  end)

  local k1
  check("pending lists local writes as {table, pk, op}", function()
    k1 = insert(a_db, "Paris")
    local p = a:pending()
    eq(#p, 1, "#pending")
    eq(p[1][1], "city", "[1]"); eq(p[1][2], k1, "[2]"); eq(p[1][3], "i", "[3]")
    eq(p[1].table, "city", "table"); eq(p[1].pk, k1, "pk")
    eq(p[1].op, "i", "op")
  end)

  check("push: the server holds the row", function()
    a:push()
    eq(#a:pending(), 0, "#pending after push")
    eq(rows(server_db), k1 .. "|Paris", "server rows")
  end)

  check("pull: the other client gets it", function()
    b:pull()
    eq(rows(b_db), k1 .. "|Paris", "b rows")
    expect(math.type(b:latest_version()) == "integer", "latest_version")
  end)

  check("sync both ways", function()
    local k2 = insert(b_db, "Oslo")
    b:sync()
    a:sync(3)
    eq(rows(a_db), rows(b_db), "a == b")
    eq(rows(server_db), rows(a_db), "server == a")
    expect(rows(a_db):find(k2 .. "|Oslo", 1, true), "Oslo arrived")
  end)

  check("PULL_REQUIRED from a bare push, branched on err.name", function()
    insert(a_db, "one")
    a:push()
    insert(b_db, "two")
    local ok, err = pcall(b.push, b)
    eq(ok, false, "push succeeded")
    eq(getmetatable(err), dbsync.Error, "metatable")
    eq(err.code, -12, "code")
    eq(err.name, "PULL_REQUIRED", "name")
    expect(err.message ~= "", "message")
    expect(tostring(err):find("PULL_REQUIRED", 1, true), "tostring: %s",
           tostring(err))
    local handled = false
    if err.name == "PULL_REQUIRED" then
      b:pull()
      b:push()
      handled = true
    end
    expect(handled, "branch taken")
    a:pull()
    eq(rows(a_db), rows(server_db), "a == server")
    eq(rows(b_db), rows(server_db), "b == server")
  end)

  check("progress callback called during a pull", function()
    for i = 1, 5 do insert(a_db, "p" .. i) end
    a:push()
    local c = dbsync.Client(new_db("c"), url, { page_size = 2 })
    c:track("city"); c:track("note")
    c:register()
    local calls = {}
    c:on_progress(function(...)
      calls[#calls + 1] = table.pack(...)
    end)
    c:pull()
    expect(#calls > 0, "no progress calls")
    for _, args in ipairs(calls) do
      eq(args.n, 4, "argument count")
      for i = 1, 4 do
        expect(math.type(args[i]) == "integer", "argument %d is %s", i,
               type(args[i]))
      end
    end
    eq(rows(c:path()), rows(server_db), "c == server")
    c:close()
  end)

  check("error raised in the progress callback comes out of pull", function()
    insert(a_db, "late")
    a:push()
    local d = dbsync.Client(new_db("d"), url)
    d:track("city"); d:track("note")
    d:register()
    local boom = setmetatable({ what = "boom" }, {
      __tostring = function() return "boom" end })
    d:on_progress(function() error(boom) end)
    local ok, err = pcall(d.pull, d)
    eq(ok, false, "pull succeeded")
    expect(rawequal(err, boom), "not the same value: %s", tostring(err))
    -- a string error keeps its text (and position)
    d:on_progress(function() error("kaboom") end)
    ok, err = pcall(d.pull, d)
    eq(ok, false, "pull succeeded")
    expect(type(err) == "string" and err:find("kaboom", 1, true),
           "got %s", tostring(err))
    -- the client still works afterwards
    d:on_progress(nil)
    d:pull()
    eq(rows(d:path()), rows(server_db), "d == server")
    d:close()
  end)

  check("progress callback returning false aborts with CALLBACK", function()
    insert(a_db, "later")
    a:push()
    local e = dbsync.Client(new_db("e"), url)
    e:track("city"); e:track("note")
    e:register()
    e:on_progress(function() return false end)
    raises("CALLBACK", e.pull, e)
    e:close()
  end)

  check("a call on the client from its own callback raises BUSY", function()
    local f = dbsync.Client(new_db("f"), url)
    f:track("city"); f:register()
    local inner
    f:on_progress(function()
      if not inner then inner = select(2, pcall(f.pending, f)) end
    end)
    f:pull()
    expect(dbsync.is_error(inner), "inner call: %s", tostring(inner))
    eq(inner.name, "BUSY", "inner error")
    f:close()
  end)

  check("bad arguments raise dbsync error values", function()
    raises("INVALID", a.track, a, 42)
    raises("INVALID", a.track, a, nil)
    raises("INVALID", a.track, a, "city", "sideways")
    raises("NOT_FOUND", a.track, a, "no_such_table")
    raises("NOT_FOUND", a.untrack, a, "no_such_table")
    raises("INVALID", a.on_progress, a, 5)
    raises("INVALID", a.register, a, 17)
    raises("INVALID", a.sync, a, "three")
    raises("INVALID", a.push) -- a.push() instead of a:push()
    raises("INVALID", a.push, {})
    raises("INVALID", dbsync.Client, nil)
    raises("INVALID", dbsync.Client, a_db, 12)
    raises("INVALID", dbsync.Client, a_db, "ftp://nowhere")
    raises("INVALID", dbsync.Client, a_db, url, { timeout = "soon" })
    raises("INVALID", dbsync.Client, a_db, url, { page_size = 1.5 })
    local notdb = TMP .. "/not-a-db"
    local f = assert(io.open(notdb, "w"))
    f:write(string.rep("this is not a database\n", 100))
    f:close()
    raises("DB", dbsync.Client, notdb)
  end)

  check("a closed client raises INVALID, closing twice is harmless",
        function()
    local g = dbsync.Client(new_db("g"), url)
    g:close()
    g:close()
    eq(g.closed, true, "closed")
    local err = raises("INVALID", g.push, g)
    expect(err.message:find("closed", 1, true), "message: %s", err.message)
    raises("INVALID", g.pending, g)
    raises("INVALID", g.track, g, "city")
    raises("INVALID", g.on_progress, g, function() end)
    eq(tostring(g), "dbsync.Client (closed)", "tostring")
  end)

  check("<close> variables and garbage collection free handles", function()
    local h_db = new_db("h")
    do
      local h <close> = dbsync.Client(h_db, url)
      h:track("city")
      eq(h.closed, false, "open inside the block")
    end
    local weak = setmetatable({}, { __mode = "v" })
    for i = 1, 20 do
      local c = dbsync.Client(h_db, url)
      -- a callback referring to its own client must not keep it alive
      c:on_progress(function() return c end)
      weak[i] = c
    end
    collectgarbage()
    collectgarbage()
    eq(next(weak), nil, "clients not collected")
  end)

  check("Server in process: exec, track, handle", function()
    local s = dbsync.Server(TMP .. "/inproc.db", "open")
    s:exec(SCHEMA)
    s:track("city")
    local status, headers, body = s:handle("GET", "/v1/health", {}, "")
    eq(status, 200, "health status")
    expect(headers[1][1] == "Content-Type", "Content-Type first")
    expect(headers["Content-Type"]:find("json", 1, true), "json")
    expect(body:find('"status"', 1, true), "body: %s", body)
    status, _, body = s:handle("POST", "/v1/register",
                               { ["Content-Type"] = "application/json" },
                               '{"protocol": 1}')
    eq(status, 200, "register status (" .. body .. ")")
    expect(body:find('"node_id"', 1, true), "body: %s", body)
    status, _, body = s:handle("POST", "/v1/register",
                               { { "Content-Type", "application/json" } },
                               "{not json")
    expect(status >= 400 and status < 500, "bad body status %d", status)
    expect(body:find("PROTOCOL", 1, true) or body ~= "", "error body")
    status = s:handle("GET", "/no/such/path")
    eq(status, 404, "unknown path")
    raises("NOT_FOUND", s.track, s, "no_such_table")
    raises("INVALID", s.handle, s, 1, "/v1/health")
    raises("INVALID", s.handle, s, "GET", "/v1/health", "x")
    raises("INVALID", s.handle, s, "GET", "/v1/health", { { 1, 2 } })
    raises("INVALID", s.handle, s, "GET", "/v1/health", {}, 42)
    raises("INVALID", dbsync.Server, TMP .. "/x.db", "sometimes")
    s:close()
    raises("INVALID", s.exec, s, "SELECT 1")
    raises("INVALID", s.handle, s, "GET", "/v1/health")
  end)

  if a then a:close() end
  if b then b:close() end
end

-- ------------------------------------------------------------ main

local ok, err = xpcall(function()
  local url = start_server()
  run(url)
end, H.traceback)
stop_server()
if not ok then H.fail("setup", err) end
H.finish(TMP)
