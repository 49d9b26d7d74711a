-- Server hooks from Lua (s:on_push, s:on_register), end to end: a Lua
-- Client in another process (client_child.lua) pushes and registers over
-- real HTTP to a dbsync.Server that this script hosts in process (host.lua),
-- so the hooks run here and their effects reach the client.
--
-- Run by ctest (lua/CMakeLists.txt) with LUA_CPATH/LUA_PATH pointing at the
-- build and source trees and DBSYNC_TEST_LUA at the interpreter. Prints one
-- line per check and "N passed, N failed" last; exits non-zero when any
-- check fails.

-- The helpers beside this script (harness.lua, host.lua, client_child.lua).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;"
               .. package.path

local dbsync = require("dbsync")
local H = require("harness")
local Host = require("host")

local check, expect, eq, raises = H.check, H.expect, H.eq, H.raises

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS city(id TEXT PRIMARY KEY, name TEXT NOT NULL);
]]
local REGISTER = '{"protocol": 1}'
local JSON = { ["Content-Type"] = "application/json" }

local TMP = H.tmpdir()

local function new_db(name)
  local path = TMP .. "/" .. name .. ".db"
  H.sql(path, SCHEMA)
  return path
end

local function insert(db, name)
  local key = H.uid()
  H.sql(db, string.format("INSERT INTO city VALUES ('%s', '%s')", key, name))
  return key
end

-- The result of a client step that must have failed with `name`.
local function refused(r, name)
  expect(r.ok == false, "%s succeeded (%s)", r.step, tostring(r.value))
  eq(r.name, name, r.step .. ": error name (" .. tostring(r.message) .. ")")
  eq(r.code, dbsync.codes[name], r.step .. ": error code")
  return r
end

local function succeeded(r)
  expect(r.ok == true, "%s failed: %s %s", r.step, tostring(r.name),
         tostring(r.message))
  return r.value
end

local function run()
  local server_db = TMP .. "/server.db"
  local s = dbsync.Server(server_db, "open")
  s:exec(SCHEMA)
  s:track("city")
  local host = Host.start(s, TMP)
  local a_db = new_db("a")
  local node

  check("before-push hook vetoes a push; the client gets the reason",
        function()
    local before, after = {}, {}
    s:on_push(function(...) before[#before + 1] = { ... }
                            return "no pushes on Sunday" end,
              function(...) after[#after + 1] = { ... } end)
    node = succeeded(host:client(a_db, { "track:city", "register" })[2])
    insert(a_db, "Paris")
    local err = refused(host:client(a_db, { "push" })[1], "PUSH_REJECTED")
    expect(err.message:find("no pushes on Sunday", 1, true),
           "message: %s", err.message)
    eq(#before, 1, "before calls")
    eq(before[1][1], node, "node id")
    eq(before[1][2], 0, "version (the server's latest)")
    eq(before[1][3], 1, "operations")
    eq(#after, 0, "after calls")
    eq(H.rows(server_db), "", "server rows")
    eq(#host.errors, 0, "errors out of handle")
  end)

  check("before-push hook returning false vetoes with a default reason",
        function()
    s:on_push(function() return false end)
    local err = refused(host:client(a_db, { "push" })[1], "PUSH_REJECTED")
    expect(err.message:find("rejected", 1, true), "message: %s", err.message)
    eq(H.rows(server_db), "", "server rows")
  end)

  check("after-push hook sees the new version", function()
    local before, after = {}, {}
    s:on_push {
      before = function(...) before[#before + 1] = { ... } return true end,
      after = function(...) after[#after + 1] = { ... } end,
    }
    local r = host:client(a_db, { "push", "latest" })
    succeeded(r[1])
    local latest = succeeded(r[2])
    eq(#before, 1, "before calls")
    eq(#after, 1, "after calls")
    eq(after[1][1], node, "node id")
    expect(math.type(after[1][2]) == "integer" and after[1][2] > 0,
           "version %s", tostring(after[1][2]))
    eq(after[1][2], latest, "version (the client's latest)")
    eq(after[1][2], before[1][2] + 1, "version after the base")
    eq(after[1][3], 1, "operations")
    expect(H.rows(server_db):find("|Paris", 1, true), "server rows: %s",
           H.rows(server_db))
  end)

  check("on_push(nil, nil) removes the hooks", function()
    local calls = 0
    s:on_push(function() calls = calls + 1 return "no" end)
    s:on_push(nil, nil)
    insert(a_db, "Rome")
    succeeded(host:client(a_db, { "push" })[1])
    eq(calls, 0, "hook calls")
  end)

  check("registration policy refuses a node", function()
    local tokens, calls = {}, 0
    s:on_register(function(token)
      calls = calls + 1
      tokens[calls] = token
      return token == "good"
    end)
    local r = host:client(new_db("reg"), { "register:bad", "register",
                                           "register:good", "node" })
    refused(r[1], "REGISTRATION_REFUSED")
    refused(r[2], "REGISTRATION_REFUSED")
    local id = succeeded(r[3])
    eq(succeeded(r[4]), id, "node id")
    eq(calls, 3, "callback calls")
    eq(tokens[1], "bad", "token 1")
    eq(tokens[2], nil, "token 2 (none sent)")
    eq(tokens[3], "good", "token 3")
    -- returning nothing refuses too
    s:on_register(function() end)
    refused(host:client(new_db("reg2"), { "register" })[1],
            "REGISTRATION_REFUSED")
    s:on_register(nil)
    succeeded(host:client(new_db("reg3"), { "register" })[1])
  end)

  check("the registration policy is asked after the server's own",
        function()
    local calls = 0
    s:on_register(function() calls = calls + 1 return true end)
    s:set_registration("closed")
    local status = s:handle("POST", "/v1/register", JSON, REGISTER)
    eq(math.type(status), "integer", "type of the status")
    eq(status, 403, "closed")
    eq(calls, 0, "callback calls while closed")
    s:set_registration("token:sesame")
    status = s:handle("POST", "/v1/register", JSON,
                      '{"protocol": 1, "token": "sesame"}')
    eq(status, 200, "right token")
    eq(calls, 1, "callback calls")
    s:set_registration("open")
    s:on_register(nil)
  end)

  check("an error in a before-push hook comes out of handle unchanged; "
        .. "the push is rolled back", function()
    local boom = setmetatable({}, { __tostring = function() return "boom" end })
    s:on_push(function() error(boom) end)
    local rows = H.rows(server_db)
    insert(a_db, "Oslo")
    local r = host:client(a_db, { "push" })
    refused(r[1], "HTTP") -- the host answered 500
    eq(#host.errors, 1, "errors out of handle")
    expect(rawequal(host.errors[1], boom), "not the same value: %s",
           tostring(host.errors[1]))
    eq(H.rows(server_db), rows, "server rows")
    -- a string error keeps its text
    s:on_push(function() error("kaboom") end)
    refused(host:client(a_db, { "push" })[1], "HTTP")
    expect(type(host.errors[2]) == "string"
           and host.errors[2]:find("kaboom", 1, true),
           "got %s", tostring(host.errors[2]))
    eq(H.rows(server_db), rows, "server rows")
    -- the server works on once the hook is gone
    s:on_push(nil)
    succeeded(host:client(a_db, { "push" })[1])
    expect(H.rows(server_db):find("|Oslo", 1, true), "Oslo arrived")
    host.errors = {}
  end)

  check("an error in an after-push hook comes out of handle; the push "
        .. "stays committed", function()
    local boom = {}
    local after, version = 0, nil
    s:on_push(nil, function(_, v)
      after, version = after + 1, v
      error(boom)
    end)
    insert(a_db, "Lima")
    refused(host:client(a_db, { "push" })[1], "HTTP")
    expect(rawequal(host.errors[1], boom), "not the same value: %s",
           tostring(host.errors[1]))
    expect(H.rows(server_db):find("|Lima", 1, true), "Lima committed")
    -- the client retries the same push: recognized, no second version,
    -- and the after hook is not run for it again
    local r = host:client(a_db, { "push", "latest" })
    succeeded(r[1])
    eq(succeeded(r[2]), version, "the client's latest version")
    eq(after, 1, "after calls")
    eq(#host.errors, 1, "errors out of handle")
    s:on_push(nil)
    host.errors = {}
  end)

  check("an error in the registration callback refuses the node and comes "
        .. "out of handle unchanged", function()
    local boom = {}
    s:on_register(function() error(boom) end)
    local ok, err = pcall(s.handle, s, "POST", "/v1/register", JSON,
                          REGISTER)
    eq(ok, false, "handle succeeded")
    expect(rawequal(err, boom), "not the same value: %s", tostring(err))
    -- error(nil) still fails the request, as a CALLBACK error value
    s:on_register(function() error(nil) end)
    local e = raises("CALLBACK", s.handle, s, "POST", "/v1/register", JSON,
                     REGISTER)
    expect(e.message:find("registration", 1, true), "message: %s",
           e.message)
    -- end to end: the node is refused (the host answered 500)
    s:on_register(function() error(boom) end)
    refused(host:client(new_db("reg4"), { "register", "node" })[1], "HTTP")
    expect(rawequal(host.errors[1], boom), "host error: %s",
           tostring(host.errors[1]))
    s:on_register(nil)
    host.errors = {}
  end)

  check("a call on the server from inside its own hook raises BUSY",
        function()
    local inner = {}
    s:on_register(function()
      inner[#inner + 1] = select(2, pcall(s.track, s, "city"))
      inner[#inner + 1] = select(2, pcall(s.handle, s, "GET", "/v1/health"))
      inner[#inner + 1] = select(2, pcall(s.on_push, s, nil))
      inner[#inner + 1] = select(2, pcall(s.close, s))
      return true
    end)
    local status = s:handle("POST", "/v1/register", JSON, REGISTER)
    eq(status, 200, "register status")
    eq(#inner, 4, "inner calls")
    for i, e in ipairs(inner) do
      H.is(e, "BUSY")
      expect(e.message:find("own hook", 1, true), "inner %d: %s", i,
             e.message)
    end
    s:on_register(nil)
    eq(s:is_closed(), false, "closed")
  end)

  check("callable tables are hooks", function()
    local seen
    local policy = setmetatable({}, { __call = function(_, token)
      seen = token
      return true
    end })
    s:on_register(policy)
    local status = s:handle("POST", "/v1/register", JSON,
                            '{"protocol": 1, "token": "t0"}')
    eq(status, 200, "register status")
    eq(seen, "t0", "token seen")
    s:on_register(nil)
  end)

  check("bad arguments to on_push/on_register raise dbsync errors",
        function()
    local fn = function() end
    raises("INVALID", s.on_push, s, 5)
    raises("INVALID", s.on_push, s, fn, "later")
    raises("INVALID", s.on_push, s, { before = 3 })
    raises("INVALID", s.on_push, s, { after = {} })
    raises("INVALID", s.on_push, s, setmetatable({}, {}))
    raises("INVALID", s.on_register, s, true)
    raises("INVALID", s.on_register, s, {})
    local e = raises("INVALID", s.on_register, s, "open")
    expect(e.message:find("function", 1, true), "message: %s", e.message)
    raises("INVALID", s.on_push) -- s.on_push() instead of s:on_push()
    raises("INVALID", s.on_register, {}, fn)
    -- the C layer checks too, with Python's messages
    e = raises("INVALID", s._h.on_push, s._h, 5, nil)
    eq(e.message, "push hook is not callable", "message")
    e = raises("INVALID", s._h.on_register, s._h, 5)
    eq(e.message, "registration callback is not callable", "message")
    -- nothing was set by the failed calls
    eq(s:handle("POST", "/v1/register", JSON, REGISTER), 200, "register")
    local closed = dbsync.Server(TMP .. "/closed.db", "open")
    closed:close()
    closed:close()
    e = raises("INVALID", closed.on_push, closed, fn)
    expect(e.message:find("closed", 1, true), "message: %s", e.message)
    raises("INVALID", closed.on_register, closed, fn)
  end)

  check("hooks live while set: released on reset, close and collection",
        function()
    local weak = setmetatable({}, { __mode = "v" })
    local function set(server, key)
      local fn = function() return true end
      weak[key] = fn
      if key == "push" then server:on_push(fn, fn) else server:on_register(fn) end
    end
    local t = dbsync.Server(TMP .. "/gc.db", "open")
    set(t, "register"); set(t, "push")
    collectgarbage(); collectgarbage()
    expect(weak.register and weak.push, "a hook was collected while set")
    eq(t:handle("POST", "/v1/register", JSON, REGISTER), 200, "register")
    t:on_register(nil); t:on_push(nil, nil)
    collectgarbage(); collectgarbage()
    eq(next(weak), nil, "hooks kept after reset")
    set(t, "register"); set(t, "push")
    t:close()
    collectgarbage(); collectgarbage()
    eq(next(weak), nil, "hooks kept after close")
    -- a server whose hooks refer to it is collected
    local servers = setmetatable({}, { __mode = "v" })
    for i = 1, 10 do
      local u = dbsync.Server(TMP .. "/gc.db", "open")
      u:on_register(function() return u end)
      u:on_push(function() return u end, function() return u end)
      servers[i] = u
    end
    collectgarbage(); collectgarbage()
    eq(next(servers), nil, "servers not collected")
  end)

  host:close()
  s:close()
end

local ok, err = xpcall(run, H.traceback)
if not ok then H.fail("setup", err) end
H.finish(TMP)
