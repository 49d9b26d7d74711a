-- A dbsync client in a process of its own, for host.lua: it talks to a
-- server that the test script hosts in its own Lua state.
--
--   lua5.4 client_child.lua OUT URL DB STEP...
--
-- STEP: track:TABLE, register, register:TOKEN, push, pull, sync, latest
-- (latest_version), node (node_id). Every step runs, whatever the earlier
-- ones did; OUT receives a Lua chunk returning one result per step:
-- { step=, ok=true, value= } or { step=, ok=false, code=, name=, message= }.

local dbsync = require("dbsync")

local out, url, db = arg[1], arg[2], arg[3]
assert(out and url and db, "usage: client_child.lua OUT URL DB STEP...")

local client = dbsync.Client(db, url, { timeout = 20 })

local steps = {
  track = function(t) client:track(t) end,
  register = function(token)
    return client:register(token ~= "" and token or nil)
  end,
  push = function() client:push() end,
  pull = function() client:pull() end,
  sync = function() client:sync() end,
  latest = function() return client:latest_version() end,
  node = function() return client:node_id() end,
}

local function field(name, value)
  if value == nil then return "" end
  return string.format("%s = %q, ", name, value)
end

local lines = { "return {" }
for i = 4, #arg do
  local name, param = arg[i]:match("^([%w_]+):?(.*)$")
  local fn = steps[name]
  local ok, v = pcall(function()
    if not fn then error("unknown step " .. arg[i], 0) end
    return fn(param)
  end)
  local r = field("step", arg[i]) .. field("ok", ok)
  if ok then
    r = r .. field("value", v)
  elseif dbsync.is_error(v) then
    r = r .. field("code", v.code) .. field("name", v.name)
          .. field("message", v.message)
  else
    r = r .. field("message", tostring(v))
  end
  lines[#lines + 1] = "  { " .. r .. "},"
end
lines[#lines + 1] = "}"
client:close()

-- Written whole, then renamed: the reader never sees half a file.
local f = assert(io.open(out .. ".tmp", "w"))
f:write(table.concat(lines, "\n"), "\n")
f:close()
assert(os.rename(out .. ".tmp", out))
