-- Conflict policies, the conflict callback and the conflict report from
-- Lua, end to end: two clients and a real dbsyncd on loopback, as
-- tests/policy_test.c and tests/unique_test.c do in C.
--
-- Each check gets two fresh clients (a and b) that start from the server's
-- copy and its own rows (keys base+1.., base = 100 * check number), so the
-- checks share one server without meeting each other's rows. Typically a
-- changes a row and syncs, then b changes the same row offline and syncs:
-- b's pull meets the conflict. Run by ctest (lua/CMakeLists.txt); prints
-- "N passed, N failed" last and exits non-zero when any check fails.

package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;"
               .. package.path

local dbsync = require("dbsync")
local H = require("harness")
local check, expect, eq, raises = H.check, H.expect, H.eq, H.raises

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS city(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS person(id INTEGER PRIMARY KEY, name TEXT,
  city_id INTEGER REFERENCES city(id));
CREATE TABLE IF NOT EXISTS tag(code TEXT PRIMARY KEY, label TEXT,
  weight REAL, data BLOB);
CREATE TABLE IF NOT EXISTS member(id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE, nick TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS member_nick ON member(nick);
]]
local TABLES = { "city", "person", "tag", "member" }

local TMP = H.tmpdir()
local SERVER_DB = TMP .. "/server.db"
local URL

-- ------------------------------------------------------------ helpers

local function query(db, select)
  local out = H.read_all(H.SQLITE3 .. " " .. H.q(db) .. " "
                         .. H.q(select))
  local list = {}
  for line in out:gmatch("[^\n]+") do list[#list + 1] = line end
  return table.concat(list, ",")
end

local function sql(db, text)
  H.sql(db, "PRAGMA foreign_keys = ON; " .. text)
end

local checks = 0
local dbs = {}

-- A fresh pair: both clients registered and holding cities base+1 'Oslo'
-- and base+2 'Bergen'.
local function pair()
  checks = checks + 1
  local p = { base = 100 * checks }
  for _, name in ipairs({ "a", "b" }) do
    local path = string.format("%s/%s%d.db", TMP, name, checks)
    sql(path, SCHEMA)
    local c = dbsync.Client(path, URL, { timeout = 10 })
    for _, t in ipairs(TABLES) do c:track(t) end
    c:register()
    p[name], p["p" .. name] = c, path
    dbs[#dbs + 1] = c
  end
  sql(p.pa, string.format("INSERT INTO city VALUES (%d, 'Oslo'), "
                          .. "(%d, 'Bergen')", p.base + 1, p.base + 2))
  p.a:sync()
  p.b:sync()
  p.oslo, p.bergen = p.base + 1, p.base + 2
  return p
end

-- "id:name" of the pair's cities in `db`.
local function cities(p, db)
  return query(db, string.format(
    "SELECT (id - %d) || ':' || name FROM city WHERE id > %d AND id < %d"
    .. " ORDER BY id", p.base, p.base, p.base + 100))
end

-- b and a synced (b holds the pending work), a, b and the server all hold
-- `want`.
local function all_cities(p, want)
  p.b:sync()
  p.a:sync()
  eq(cities(p, p.pa), want, "a's cities")
  eq(cities(p, p.pb), want, "b's cities")
  eq(cities(p, SERVER_DB), want, "the server's cities")
end

-- a renames Oslo and syncs; b renames it too, offline.
local function both_rename_oslo()
  local p = pair()
  sql(p.pa, "UPDATE city SET name = 'Oslo A' WHERE id = " .. p.oslo)
  p.a:sync()
  sql(p.pb, "UPDATE city SET name = 'Oslo B' WHERE id = " .. p.oslo)
  return p
end

local function pending(c)
  local out = {}
  for _, op in ipairs(c:pending()) do
    out[#out + 1] = op.table .. ":" .. op.op .. ":" .. tostring(op.pk)
  end
  return table.concat(out, ",")
end

-- The report as "kind/resolution table:op:pk" entries.
local function report(c)
  local out = {}
  for _, e in ipairs(c:conflicts()) do
    out[#out + 1] = string.format("%s/%s %s:%s:%s", e.kind, e.resolution,
                                  e.table, e.op, tostring(e.pk))
  end
  return table.concat(out, ",")
end

local function same_list(got, want, what)
  eq(table.concat(got, ","), table.concat(want, ","), what)
end

-- ------------------------------------------------------------ checks

local function run()
  check("an update/update conflict reaches the callback with both rows",
        function()
    local p = both_rename_oslo()
    local seen = {}
    p.b:on_conflict(function(c) seen[#seen + 1] = c end)
    p.b:sync()
    eq(#seen, 1, "callback calls")
    local c = seen[1]
    eq(c.kind, "update/update", "kind")
    eq(c.table, "city", "table")
    eq(c.pk, p.oslo, "pk")
    eq(c.op, "u", "op")
    eq(c.is_choice, true, "is_choice")
    eq(c.resolution, "keep-local", "resolution")
    same_list(c.columns, { "id", "name" }, "columns")
    eq(c["local"].id, p.oslo, "local id")
    eq(c["local"].name, "Oslo B", "local name")
    eq(c.remote.id, p.oslo, "remote id")
    eq(c.remote.name, "Oslo A", "remote name")
    expect(rawequal(c.local_row, c["local"]), "local_row")
    expect(rawequal(c.remote_row, c.remote), "remote_row")
    -- nil: the default resolution (local wins)
    eq(report(p.b), "update/update/keep-local city:u:" .. p.oslo, "report")
    eq(#p.b:conflicts(), 0, "the report is handed over once")
    all_cities(p, "1:Oslo B,2:Bergen")
  end)

  check("take-remote and keep-local answers", function()
    local p = both_rename_oslo()
    local answer = "take-remote"
    p.b:on_conflict(function() return answer end)
    p.b:sync()
    eq(report(p.b), "update/update/take-remote city:u:" .. p.oslo, "report")
    eq(pending(p.b), "", "b's pending")
    all_cities(p, "1:Oslo A,2:Bergen")

    sql(p.pa, "UPDATE city SET name = 'Bergen A' WHERE id = " .. p.bergen)
    p.a:sync()
    sql(p.pb, "UPDATE city SET name = 'Bergen B' WHERE id = " .. p.bergen)
    answer = "keep-local"
    p.b:sync()
    eq(report(p.b), "update/update/keep-local city:u:" .. p.bergen,
       "report")
    all_cities(p, "1:Oslo A,2:Bergen B")
  end)

  check("a merged row reaches both clients and the server", function()
    local p = both_rename_oslo()
    p.b:on_conflict(function(c)
      return { name = c.remote.name .. "+" .. c["local"].name }
    end)
    p.b:sync()
    eq(report(p.b), "update/update/merged city:u:" .. p.oslo, "report")
    all_cities(p, "1:Oslo A+Oslo B,2:Bergen")

    -- the local row itself, changed, may come back (its key unchanged)
    sql(p.pa, "UPDATE city SET name = 'Bergen A' WHERE id = " .. p.bergen)
    p.a:sync()
    sql(p.pb, "UPDATE city SET name = 'Bergen B' WHERE id = " .. p.bergen)
    p.b:on_conflict(function(c)
      local row = c["local"]
      row.name = row.name .. "!"
      return row
    end)
    p.b:sync()
    all_cities(p, "1:Oslo A+Oslo B,2:Bergen B!")
  end)

  check("merging a row deleted here makes it a pending update", function()
    local p = pair()
    sql(p.pa, "UPDATE city SET name = 'Oslo A' WHERE id = " .. p.oslo)
    p.a:sync()
    sql(p.pb, "DELETE FROM city WHERE id = " .. p.oslo)
    local seen
    p.b:on_conflict(function(c)
      seen = c
      return { name = "Oslo merged" }
    end)
    p.b:pull()
    eq(seen.kind, "update/delete", "kind")
    eq(seen["local"], nil, "local row of a row deleted here")
    eq(seen.pk, p.oslo, "pk")
    eq(seen.remote.name, "Oslo A", "remote name")
    eq(seen.resolution, "take-remote", "default resolution")
    eq(report(p.b), "update/delete/merged city:u:" .. p.oslo, "report")
    eq(pending(p.b), "city:u:" .. p.oslo, "b's pending")
    all_cities(p, "1:Oslo merged,2:Bergen")
  end)

  check("merged values: NULL, integers, floats, blobs, a TEXT key",
        function()
    local p = pair()
    local code = "t" .. p.base
    sql(p.pa, string.format(
      "INSERT INTO tag VALUES ('%s', 'from a', 1.5, x'00ff')", code))
    p.a:sync()
    sql(p.pb, string.format(
      "INSERT INTO tag VALUES ('%s', 'from b', 2.5, x'0102')", code))
    local seen
    p.b:on_conflict(function(c)
      seen = c
      return { label = dbsync.null, weight = 7, data = "\1\0\2" }
    end)
    p.b:sync()
    eq(seen.kind, "insert/insert", "kind")
    eq(seen.pk, code, "TEXT key")
    eq(seen.op, "i", "op")
    eq(seen["local"].weight, 2.5, "local weight")
    eq(seen.remote.data, "\0\255", "remote blob")
    eq(seen.remote.code, code, "remote key")
    p.a:sync()
    local want = code .. "|1||7.0|blob|010002"
    local select = "SELECT code, label IS NULL, label, weight,"
                   .. " typeof(data), hex(data) FROM tag WHERE code = '"
                   .. code .. "'"
    for _, db in ipairs({ p.pa, p.pb, SERVER_DB }) do
      eq(query(db, select), want, db)
    end
  end)

  check("an error raised in the callback comes out of pull and sync",
        function()
    local p = both_rename_oslo()
    local before = H.read_file(p.pb)
    local boom = setmetatable({ what = "boom" },
                              { __tostring = function() return "boom" end })
    p.b:on_conflict(function() error(boom) end)
    local ok, err = pcall(p.b.pull, p.b)
    eq(ok, false, "pull succeeded")
    expect(rawequal(err, boom), "not the same value: %s", tostring(err))
    -- the pull's page changed nothing: b's file is byte for byte the same
    eq(H.read_file(p.pb) == before, true, "b's database file changed")
    ok, err = pcall(p.b.sync, p.b)
    eq(ok, false, "sync succeeded")
    expect(rawequal(err, boom), "not the same value: %s", tostring(err))
    -- a string keeps its text, position included
    p.b:on_conflict(function() error("kaboom") end)
    ok, err = pcall(p.b.sync, p.b)
    eq(ok, false, "sync succeeded")
    expect(type(err) == "string" and err:find("conflict_test.lua:%d+: "
                                              .. "kaboom"),
           "got %s", tostring(err))
    -- error(nil) still fails the pull, with a CALLBACK error value
    p.b:on_conflict(function() error(nil) end)
    raises("CALLBACK", p.b.pull, p.b)
    -- nothing merged: the rows, the pending update, the report
    eq(cities(p, p.pb), "1:Oslo B,2:Bergen", "b's cities")
    eq(pending(p.b), "city:u:" .. p.oslo, "b's pending")
    eq(report(p.b), "", "report")
    eq(cities(p, SERVER_DB), "1:Oslo A,2:Bergen", "the server's cities")
    -- fixed, the same conflict is met again and resolved
    local calls = 0
    p.b:on_conflict(function() calls = calls + 1 end)
    p.b:sync()
    eq(calls, 1, "callback calls")
    all_cities(p, "1:Oslo B,2:Bergen")
  end)

  check("bad answers raise INVALID out of the pull and change nothing",
        function()
    local p = both_rename_oslo()
    local before = H.read_file(p.pb)
    local answers = {
      { "merged", "answered \"merged\"" },
      { 42, "answered a number" },
      { false, "answered a boolean" },
      { { id = 99999 }, "key column id cannot change" },
      { { ID = p.oslo + 1 }, "key column ID cannot change" },
      { { population = 3 }, "has no column population" },
      { { [1] = "x" }, "keys must be column names" },
      { { name = {} }, "value of name cannot be a table" },
      { { name = print }, "value of name cannot be a function" },
    }
    for _, a in ipairs(answers) do
      p.b:on_conflict(function() return a[1] end)
      local err = raises("INVALID", p.b.pull, p.b)
      expect(err.message:find(a[2], 1, true), "message for %s: %s",
             tostring(a[1]), err.message)
    end
    eq(H.read_file(p.pb) == before, true, "b's database file changed")
    eq(pending(p.b), "city:u:" .. p.oslo, "b's pending")
    -- column names match without regard to case, as in SQL
    p.b:on_conflict(function() return { NAME = "Oslo AB" } end)
    p.b:sync()
    all_cities(p, "1:Oslo AB,2:Bergen")
  end)

  check("server-wins takes the remote row and drops the local update",
        function()
    local p = both_rename_oslo()
    p.b:set_policy("city", "server-wins")
    p.b:sync()
    eq(report(p.b), "update/update/take-remote city:u:" .. p.oslo, "report")
    eq(pending(p.b), "", "b's pending")
    all_cities(p, "1:Oslo A,2:Bergen")
  end)

  check("a table's policy overrides the default and the callback",
        function()
    local p = both_rename_oslo()
    p.b:set_policy(nil, "server-wins")
    p.b:set_policy("city", "local-wins")
    p.b:sync()
    eq(report(p.b), "update/update/keep-local city:u:" .. p.oslo, "report")
    all_cities(p, "1:Oslo B,2:Bergen")

    -- on_conflict makes the callback the default, not city's policy
    sql(p.pa, "UPDATE city SET name = 'Bergen A' WHERE id = " .. p.bergen)
    p.a:sync()
    sql(p.pb, "UPDATE city SET name = 'Bergen B' WHERE id = " .. p.bergen)
    local calls = 0
    p.b:on_conflict(function() calls = calls + 1; return "take-remote" end)
    p.b:sync()
    eq(calls, 0, "callback calls for a local-wins table")
    all_cities(p, "1:Oslo B,2:Bergen B")
    -- city under the callback policy: now it decides
    p.b:set_policy("city", "callback")
    sql(p.pa, "UPDATE city SET name = 'Bergen AA' WHERE id = " .. p.bergen)
    p.a:sync()
    sql(p.pb, "UPDATE city SET name = 'Bergen BB' WHERE id = " .. p.bergen)
    p.b:sync()
    eq(calls, 1, "callback calls")
    all_cities(p, "1:Oslo B,2:Bergen AA")
  end)

  check("on_conflict(nil) removes the callback: local wins again",
        function()
    local p = both_rename_oslo()
    local calls = 0
    p.b:on_conflict(function() calls = calls + 1; return "take-remote" end)
    p.b:on_conflict(nil)
    p.b:sync()
    eq(calls, 0, "callback calls")
    eq(report(p.b), "update/update/keep-local city:u:" .. p.oslo, "report")
    all_cities(p, "1:Oslo B,2:Bergen")
  end)

  check("a default set with set_policy(nil, ...) outlives on_conflict",
        function()
    local p = both_rename_oslo()
    local calls = 0
    p.b:set_policy(nil, "server-wins")
    p.b:on_conflict(function() calls = calls + 1; return "keep-local" end)
    p.b:sync()
    eq(calls, 0, "callback calls")
    eq(report(p.b), "update/update/take-remote city:u:" .. p.oslo, "report")
    all_cities(p, "1:Oslo A,2:Bergen")
    -- removing the callback keeps it too
    sql(p.pa, "UPDATE city SET name = 'Bergen A' WHERE id = " .. p.bergen)
    p.a:sync()
    sql(p.pb, "UPDATE city SET name = 'Bergen B' WHERE id = " .. p.bergen)
    p.b:on_conflict(nil)
    p.b:sync()
    all_cities(p, "1:Oslo A,2:Bergen A")
  end)

  check("the callback sees structural conflicts; its answer is ignored",
        function()
    local p = pair()
    sql(p.pa, "DELETE FROM city WHERE id = " .. p.bergen)
    p.a:sync()
    sql(p.pb, string.format("INSERT INTO person VALUES (%d, 'Cy', %d)",
                            p.base + 30, p.bergen))
    local seen = {}
    p.b:on_conflict(function(c)
      seen[#seen + 1] = c
      return "take-remote"
    end)
    p.b:sync()
    eq(#seen, 1, "callback calls")
    eq(seen[1].kind, "dependency", "kind")
    eq(seen[1].is_choice, false, "is_choice")
    eq(seen[1].op, "d", "op")
    eq(seen[1].remote, nil, "remote row of a remote delete")
    eq(seen[1]["local"].name, "Bergen", "local row")
    eq(report(p.b), "dependency/keep-local city:d:" .. p.bergen, "report")
    all_cities(p, "1:Oslo,2:Bergen")
  end)

  check("a unique collision raises UNIQUE_CONFLICT with its conflicts",
        function()
    local p = pair()
    local email = "dup" .. p.base .. "@"
    sql(p.pa, string.format("INSERT INTO member VALUES (%d, '%s', NULL);"
                            .. "UPDATE city SET name = 'Oslo A' WHERE id = %d",
                            p.base + 5, email, p.oslo))
    p.a:sync()
    sql(p.pb, string.format("INSERT INTO member VALUES (%d, '%s', NULL);"
                            .. "INSERT INTO city VALUES (%d, 'Turku')",
                            p.base + 7, email, p.base + 3))
    local before = H.read_file(p.pb)
    local err = raises("UNIQUE_CONFLICT", p.b.pull, p.b)
    eq(H.read_file(p.pb) == before, true, "b's database file changed")
    eq(type(err.conflicts), "table", "err.conflicts")
    eq(#err.conflicts, 1, "#err.conflicts")
    local c = err.conflicts[1]
    eq(c.table, "member", "table")
    eq(c.pk, p.base + 7, "pk: b's own row")
    eq(c.kind, "unique", "kind")
    eq(c.resolution, nil, "resolution")
    same_list(c.columns, { "email" }, "columns")
    -- the report holds it as well, once
    eq(report(p.b), "unique/nil member:i:" .. (p.base + 7), "report")
    eq(report(p.b), "", "report again")
    -- sync raises it the same way
    err = raises("UNIQUE_CONFLICT", p.b.sync, p.b)
    eq(#err.conflicts, 1, "#err.conflicts from sync")
    eq(cities(p, p.pb), "1:Oslo,2:Bergen,3:Turku", "b's cities")
    -- the application renames its row; sync goes through
    sql(p.pb, string.format("UPDATE member SET email = 'x%s' WHERE id = %d",
                            email, p.base + 7))
    p.b:sync()
    all_cities(p, "1:Oslo A,2:Bergen,3:Turku")
    local members = string.format(
      "SELECT (id - %d) || ':' || email FROM member WHERE id > %d AND id < %d"
      .. " ORDER BY id", p.base, p.base, p.base + 100)
    local want = string.format("5:%s,7:x%s", email, email)
    for _, db in ipairs({ p.pa, p.pb, SERVER_DB }) do
      eq(query(db, members), want, db)
    end
  end)

  check("bad arguments and closed clients raise dbsync errors", function()
    local p = both_rename_oslo()
    local b = p.b
    raises("INVALID", b.on_conflict, b, 5)
    raises("INVALID", b.on_conflict, b, "keep-local")
    raises("INVALID", b.on_conflict, b, {})
    raises("INVALID", b.set_policy, b, "city", "first-wins")
    raises("INVALID", b.set_policy, b, "city")
    raises("INVALID", b.set_policy, b, 42, "server-wins")
    raises("INVALID", b.set_policy, b, "", "server-wins")
    raises("INVALID", b.on_conflict) -- b.on_conflict() instead of b:...
    -- a callable table counts as a function
    local callable = setmetatable({}, { __call = function() end })
    b:on_conflict(callable)
    -- a call on the client from inside its own callback raises BUSY
    local inner
    b:on_conflict(function()
      inner = select(2, pcall(b.pending, b))
      local _, e = pcall(b.on_conflict, b, nil)
      inner = { inner, e, select(2, pcall(b.close, b)) }
    end)
    b:sync()
    for i = 1, 3 do
      expect(dbsync.is_error(inner[i]), "inner call %d: %s", i,
             tostring(inner[i]))
      eq(inner[i].name, "BUSY", "inner call " .. i)
    end
    eq(b.closed, false, "closed from inside the callback")
    b:close()
    local err = raises("INVALID", b.on_conflict, b, function() end)
    expect(err.message:find("closed", 1, true), "message: %s", err.message)
    raises("INVALID", b.on_conflict, b, nil)
    raises("INVALID", b.set_policy, b, "city", "server-wins")
    raises("INVALID", b.conflicts, b)
  end)

  check("callbacks are released on removal, close and collection",
        function()
    local p = pair()
    local weak = setmetatable({}, { __mode = "v" })
    do
      local fn = function() end
      weak.removed = fn
      p.a:on_conflict(fn)
      p.a:on_conflict(nil)
      fn = function() end
      weak.closed = fn
      p.b:on_conflict(fn)
      p.b:on_progress(function() end)
      p.b:close()
    end
    local db = TMP .. "/gc.db"
    sql(db, SCHEMA)
    for i = 1, 10 do
      local c = dbsync.Client(db, URL)
      -- a callback referring to its own client does not keep it alive
      c:on_conflict(function() return c end)
      weak[i] = c
    end
    collectgarbage()
    collectgarbage()
    eq(weak.removed, nil, "a removed callback is kept")
    eq(weak.closed, nil, "a closed client's callback is kept")
    for i = 1, 10 do eq(weak[i], nil, "client " .. i .. " not collected") end
  end)
end

-- ------------------------------------------------------------ main

local stop = function() end
local ok, err = xpcall(function()
  URL, stop = H.start_dbsyncd(TMP, SCHEMA, table.concat(TABLES, ","))
  run()
end, H.traceback)
for _, c in ipairs(dbs) do c:close() end
stop()
if not ok then H.fail("setup", err) end
H.finish(TMP)
