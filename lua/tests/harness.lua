-- The Lua test scripts' shared harness: checks that count passes and
-- failures, assertions that name what differed, dbsync error matching, and
-- the shell/SQLite helpers the scripts write client databases with.
--
-- A script runs its checks with H.check(name, fn), then H.finish(tmpdir):
-- one line per check, "N passed, N failed" last, exit status non-zero when
-- any check failed (the temporary directory is kept for inspection then).

local dbsync = require("dbsync")

local H = { passed = 0, failed = 0 }

-- The sqlite3 shell writes client databases, as an application's own
-- connection would.
H.SQLITE3 = os.getenv("DBSYNC_TEST_SQLITE3") or "sqlite3"

local function describe(e)
  return tostring(e)
end

-- The text of a failure with its traceback (a message handler).
function H.traceback(e)
  return describe(e) .. "\n" .. debug.traceback("", 2)
end

function H.check(name, fn)
  local ok, err = xpcall(fn, H.traceback)
  if ok then
    H.passed = H.passed + 1
    print("ok    " .. name)
  else
    H.failed = H.failed + 1
    print("FAIL  " .. name .. ": " .. err)
  end
end

-- A failure outside any check (setup): counted, reported.
function H.fail(name, err)
  H.failed = H.failed + 1
  print("FAIL  " .. name .. ": " .. tostring(err))
end

function H.expect(cond, msg, ...)
  if not cond then
    error(string.format(msg or "expectation failed", ...), 2)
  end
end

function H.eq(a, b, what)
  if a ~= b then
    error(string.format("%s: expected %s, got %s", what or "value",
                        tostring(b), tostring(a)), 2)
  end
end

-- `err` must be a dbsync error named `name` (its code matching); returns it.
function H.is(err, name, level)
  level = (level or 1) + 1
  if not dbsync.is_error(err) then
    error("expected a dbsync error " .. name .. ", got " .. type(err)
          .. ": " .. tostring(err), level)
  end
  if err.name ~= name then
    error("expected " .. name .. ", got " .. tostring(err), level)
  end
  if err.code ~= dbsync.codes[name] then
    error(string.format("code of %s: expected %s, got %s", name,
                        tostring(dbsync.codes[name]), tostring(err.code)),
          level)
  end
  if type(err.message) ~= "string" then
    error("the message of " .. name .. " is not a string", level)
  end
  return err
end

-- pcall(fn, ...) must fail with a dbsync error named `name`; returns it.
function H.raises(name, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("expected " .. name .. ", but the call succeeded", 2) end
  return H.is(err, name, 2)
end

-- A shell-quoted string.
function H.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function H.sh(cmd)
  local ok = os.execute(cmd)
  if not ok then error("command failed: " .. cmd, 2) end
end

function H.read_all(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

function H.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function H.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function H.sql(db, text)
  H.sh(H.SQLITE3 .. " " .. H.q(db) .. " " .. H.q(text))
end

-- Sorted "id|name" lines of a table (default city), comma-joined.
function H.rows(db, table_name)
  local out = H.read_all(H.SQLITE3 .. " " .. H.q(db) .. " "
                         .. H.q("SELECT * FROM " .. (table_name or "city")
                                .. " ORDER BY 1"))
  local list = {}
  for line in out:gmatch("[^\n]+") do list[#list + 1] = line end
  return table.concat(list, ",")
end

local counter = 0
-- A key no earlier run of the script used.
function H.uid()
  counter = counter + 1
  return string.format("k%d_%d", os.time(), counter)
end

function H.tmpdir()
  local dir = H.read_all("mktemp -d"):gsub("%s+$", "")
  assert(dir ~= "", "mktemp -d failed")
  return dir
end

-- Start a real dbsyncd (DBSYNC_TEST_DBSYNCD) on a free loopback port with
-- its store in `tmp`/server.db (or `opts.store`), created from the SQL text
-- `schema`, tracking `tables` (a comma-separated list), registration open.
-- Returns its base URL and a function that stops it (and waits for it).
function H.start_dbsyncd(tmp, schema, tables, opts)
  opts = opts or {}
  local dbsyncd = os.getenv("DBSYNC_TEST_DBSYNCD")
  assert(dbsyncd and dbsyncd ~= "", "DBSYNC_TEST_DBSYNCD is not set")
  local schema_file = tmp .. "/schema.sql"
  H.write_file(schema_file, schema)
  local port_file = tmp .. "/port"
  local log = tmp .. "/dbsyncd.log"
  os.remove(port_file)
  local cmd = table.concat({
    H.q(dbsyncd), "--store",
    H.q("sqlite:" .. (opts.store or tmp .. "/server.db")),
    "--schema", H.q(schema_file), "--track", H.q(tables),
    "--registration", "open", "--listen", "127.0.0.1:0",
    "--port-file", H.q(port_file),
    ">" .. H.q(log), "2>&1", "&", "echo", "$!",
  }, " ")
  local pid = H.read_all(cmd):match("%d+")
  assert(pid, "could not start dbsyncd")
  local function stop()
    if not pid then return end
    os.execute("kill " .. pid .. " 2>/dev/null")
    -- wait for it to go away (at most ~5 s)
    os.execute("for i in $(seq 50); do kill -0 " .. pid
               .. " 2>/dev/null || break; sleep 0.1; done")
    pid = nil
  end
  -- up to 30 s on a loaded machine
  for _ = 1, 600 do
    local port = H.read_file(port_file)
    if port and port:match("%d+") then
      return "http://127.0.0.1:" .. port:match("%d+"), stop
    end
    if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then break end
    os.execute("sleep 0.05")
  end
  stop()
  error("dbsyncd did not start: " .. (H.read_file(log) or ""))
end

-- Report and exit: removes `tmp` when every check passed.
function H.finish(tmp)
  if H.failed == 0 then
    if tmp then os.execute("rm -rf " .. H.q(tmp)) end
  elseif tmp then
    print("kept " .. tmp .. " for inspection")
  end
  print(string.format("%d passed, %d failed", H.passed, H.failed))
  os.exit(H.failed == 0 and 0 or 1)
end

return H
