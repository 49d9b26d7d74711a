-- The Lua binding as a LuaRocks package. In a checkout:
--
--   luarocks make --local            (or as root, without --local)
--
-- builds libdbsync and the SWIG module `dbsync_core` with the project's
-- CMake (swig, a C compiler and the libraries' -dev packages are needed:
-- docs/lua.md) and installs the two modules `dbsync` and `dbsync_core`.
-- `luarocks build` does the same from the release tarball named in
-- `source` (made with `git archive`, see docs/lua.md). The version follows
-- the project's (CMakeLists.txt); ctest's lua.rockspec checks it.
rockspec_format = "3.0"
package = "dbsync"
version = "0.1.0-1"
source = {
  url = "dbsync-0.1.0.tar.gz",
  dir = "dbsync-0.1.0",
}
description = {
  summary = "Offline-first sync of SQLite databases with a central server",
  detailed = [[
dbsync captures every committed change to tracked tables of a local SQLite
database with triggers and synchronizes it with one central server: push,
pull with conflict resolution, repair. Client and server are in the C
library libdbsync; this is its Lua 5.4 binding (dbsync.Client,
dbsync.Server with push hooks and a registration policy).]],
  labels = { "sqlite", "sync", "offline" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    DBSYNC_BUILD_TESTS = "OFF",
    DBSYNC_BUILD_BENCH = "OFF",
    DBSYNC_BUILD_LUA = "ON",
    -- The headers of the Lua LuaRocks installs for, not whichever CMake
    -- would find first.
    DBSYNC_LUA_INCLUDE_DIR = "$(LUA_INCDIR)",
  },
  -- Only the two modules: the rest of `cmake --install` (the C library,
  -- its headers, dbsync and dbsyncd) is not part of a rock.
  install_pass = false,
  install = {
    lua = { dbsync = "lua/dbsync.lua" },
    lib = { dbsync_core = "build.luarocks/lua/dbsync_core.so" },
  },
}
