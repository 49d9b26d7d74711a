-- An in-process HTTP host for a dbsync.Server, for the tests.
--
-- Server hooks run inside server:handle(), in the Lua state that owns the
-- server, so a test that checks them end to end serves the requests
-- itself: the client runs in another process (client_child.lua: the Lua
-- Client over libcurl, as an application would use it) while this host
-- accepts its connections on loopback (dbsync_testnet) and answers each
-- with server:handle(). An error that comes out of handle() is kept in
-- host.errors and answered 500 with a plain-text body, as a WSGI server
-- answers an exception.
--
--   local host = Host.start(server, tmpdir)
--   local r = host:client(db, { "track:city", "register", "push" })
--   -- r[3].ok, r[3].name, r[3].message; host.errors

local net = require("dbsync_testnet")
local H = require("harness")

local M = {}
local Host = {}
Host.__index = Host

local LUA = os.getenv("DBSYNC_TEST_LUA") or arg[-1] or "lua5.4"
local CHILD = assert(package.searchpath("client_child", package.path),
                     "client_child.lua is not on LUA_PATH")
local IO_TIMEOUT = 20 -- seconds a connection may stall
local REASONS = { [200] = "OK", [400] = "Bad Request", [403] = "Forbidden",
                  [409] = "Conflict", [422] = "Unprocessable Entity",
                  [500] = "Internal Server Error" }

function M.start(server, tmp)
  local listener = assert(net.listen("127.0.0.1", 0))
  return setmetatable({
    server = server, listener = listener, tmp = tmp, children = 0,
    url = "http://127.0.0.1:" .. listener:port(),
    errors = {},   -- what handle() raised, in order
    requests = {}, -- "METHOD /path STATUS" of every request answered
  }, Host)
end

-- One request: method, target, headers ({ {name, value}, ... }), body; or
-- nil and why.
local function read_request(conn)
  local buf = ""
  local head_end
  repeat
    local data, err = conn:receive(IO_TIMEOUT)
    if not data then return nil, err end
    buf = buf .. data
    head_end = buf:find("\r\n\r\n", 1, true)
    if not head_end and #buf > 65536 then return nil, "header too large" end
  until head_end
  local head, body = buf:sub(1, head_end - 1), buf:sub(head_end + 4)
  local method, target = head:match("^(%u+) (%S+) HTTP/1%.%d")
  if not method then return nil, "bad request line" end
  local headers, length = {}, 0
  for line in head:gmatch("\r\n([^\r\n]+)") do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      headers[#headers + 1] = { name, value }
      local lname = name:lower()
      if lname == "content-length" then
        length = tonumber(value)
      elseif lname == "transfer-encoding" then
        return nil, "chunked bodies are not supported here"
      elseif lname == "expect" and value:lower() == "100-continue" then
        conn:send("HTTP/1.1 100 Continue\r\n\r\n")
      end
    end
  end
  if not length then return nil, "bad Content-Length" end
  while #body < length do
    local data, err = conn:receive(IO_TIMEOUT)
    if not data then return nil, err end
    body = body .. data
  end
  return method, target, headers, body:sub(1, length)
end

-- Answer one connection (one request: the answer closes it).
function Host:answer(conn)
  local method, target, headers, body = read_request(conn)
  if not method then
    conn:close()
    return
  end
  local ok, status, out, data = pcall(self.server.handle, self.server,
                                      method, target, headers, body)
  if not ok then
    self.errors[#self.errors + 1] = status
    status, out = 500, { { "Content-Type", "text/plain" } }
    data = "A server error occurred.\n"
  end
  self.requests[#self.requests + 1] = string.format("%s %s %d", method,
                                                    target, status)
  local lines = { string.format("HTTP/1.1 %d %s", status,
                                REASONS[status] or "Status") }
  for _, pair in ipairs(out) do
    lines[#lines + 1] = pair[1] .. ": " .. pair[2]
  end
  lines[#lines + 1] = "Content-Length: " .. #data
  lines[#lines + 1] = "Connection: close"
  conn:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. data)
  conn:close()
end

-- Serve until done() is true; fails after `seconds`.
function Host:serve_until(done, seconds)
  local deadline = os.time() + seconds
  while not done() do
    if os.time() > deadline then
      error("the client did not finish within " .. seconds .. " s", 2)
    end
    local conn = self.listener:accept(0.05)
    if conn then self:answer(conn) end
  end
end

-- Run client_child.lua on `db` with `steps` while serving it; returns its
-- results, one per step: { step=, ok=, value= } or { step=, ok=false,
-- code=, name=, message= } (name/code nil for a non-dbsync error).
function Host:client(db, steps)
  self.children = self.children + 1
  local base = string.format("%s/child%d", self.tmp, self.children)
  local args = { H.q(LUA), H.q(CHILD), H.q(base .. ".out"), H.q(self.url),
                 H.q(db) }
  for _, step in ipairs(steps) do args[#args + 1] = H.q(step) end
  -- The subshell writes the exit status last, whatever the child did.
  H.sh(string.format("(%s; echo $? > %s) > %s 2>&1 &",
                     table.concat(args, " "), H.q(base .. ".done"),
                     H.q(base .. ".log")))
  -- (the shell creates the file before echo writes to it)
  local function status()
    return (H.read_file(base .. ".done") or ""):match("%d+\n")
  end
  self:serve_until(status, 60)
  status = status():match("%d+")
  local results = H.read_file(base .. ".out")
  if status ~= "0" or not results then
    error(string.format("client child failed (exit %s): %s", status,
                        H.read_file(base .. ".log") or ""), 2)
  end
  return assert(load(results, "=" .. base .. ".out", "t", {}))()
end

function Host:close()
  self.listener:close()
end

return M
