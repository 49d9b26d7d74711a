-- The rockspec at the root of the source tree matches the project: its
-- version is the CMake project version (revision 1), and what it builds and
-- installs exists. LuaRocks itself is no dependency of the build, so the
-- suite does not run it; docs/lua.md says how to check a rockspec with it.
--
--   lua5.4 rockspec_test.lua SOURCE_DIR PROJECT_VERSION

package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;"
               .. package.path

local H = require("harness")
local check, expect, eq = H.check, H.expect, H.eq

local SRC, VERSION = arg[1], arg[2]
assert(SRC and VERSION, "usage: rockspec_test.lua SOURCE_DIR VERSION")
local NAME = "dbsync-" .. VERSION .. "-1.rockspec"
local spec = {}

check("the rockspec of version " .. VERSION .. " loads", function()
  local chunk, err = loadfile(SRC .. "/" .. NAME, "t", spec)
  expect(chunk, "%s", err)
  chunk()
end)

check("no rockspec of another version is left", function()
  local list = H.read_all("ls " .. H.q(SRC) .. " | grep '\\.rockspec$'")
  eq(list, NAME .. "\n", "rockspecs")
end)

check("package, version, source", function()
  eq(spec.rockspec_format, "3.0", "rockspec_format")
  eq(spec.package, "dbsync", "package")
  eq(spec.version, VERSION .. "-1", "version")
  eq(spec.source.url, "dbsync-" .. VERSION .. ".tar.gz", "source.url")
  eq(spec.source.dir, "dbsync-" .. VERSION, "source.dir")
  eq(spec.dependencies[1], "lua >= 5.4, < 5.5", "dependency")
end)

check("builds with the project's CMake and installs both modules",
      function()
  local b = spec.build
  eq(b.type, "cmake", "build.type")
  eq(b.variables.DBSYNC_BUILD_LUA, "ON", "DBSYNC_BUILD_LUA")
  eq(b.variables.DBSYNC_BUILD_TESTS, "OFF", "DBSYNC_BUILD_TESTS")
  eq(b.install_pass, false, "install_pass")
  eq(b.install.lua.dbsync, "lua/dbsync.lua", "lua module")
  expect(H.read_file(SRC .. "/" .. b.install.lua.dbsync), "%s missing",
         b.install.lua.dbsync)
  -- where lua/CMakeLists.txt puts the module in LuaRocks' build tree
  eq(b.install.lib.dbsync_core, "build.luarocks/lua/dbsync_core.so",
     "C module")
  local cmake = H.read_file(SRC .. "/lua/CMakeLists.txt")
  expect(cmake:find("OUTPUT_NAME dbsync_core", 1, true),
         "lua/CMakeLists.txt no longer names the module dbsync_core")
end)

H.finish()
