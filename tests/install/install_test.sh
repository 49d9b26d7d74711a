#!/usr/bin/env bash
# tests/install/install_test.sh - the installed package serves a consumer.
#
#   install_test.sh BUILD_DIR WORK_DIR LIBDIR VERSION SANITIZE
#
# 1. `cmake --install BUILD_DIR --prefix WORK_DIR/prefix`;
# 2. the installed tree: headers, pkg-config file, CMake package, the .so
#    symlink chain, SONAME libdbsync.so.1, only dbsync_* symbols exported and
#    every function the headers declare among them and in docs/c-api.md,
#    the headers compile alone as C99 and as C++;
# 3. consumer.c built with `pkg-config --cflags --libs dbsync`, and as a
#    CMake project with find_package(dbsync) (shared and static targets);
#    each links the installed library (not the build tree's) and runs.
set -euo pipefail

build=$(readlink -f "$1")
work=$2
libdir_rel=$3
version=$4
sanitize=${5:-OFF}
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work"
mkdir -p "$work"
work=$(readlink -f "$work")
prefix=$work/prefix
libdir=$prefix/$libdir_rel

passed=0
failed=0
check() { # check DESCRIPTION COMMAND...: run COMMAND, count the result
	local what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
	else
		echo "FAIL: $what" >&2
		failed=$((failed + 1))
	fi
}
finish() {
	echo "install: $passed passed, $failed failed"
	exit $((failed == 0 ? 0 : 1))
}

# A sanitized library needs the sanitizer runtime first in the consumer too.
cflags=""
if [ "$sanitize" = ON ]; then
	cflags="-fsanitize=address,undefined -fno-omit-frame-pointer"
fi

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"

# ---- the installed tree ----
for f in include/dbsync.h include/dbsync/common.h include/dbsync/errors.h \
	include/dbsync/client.h include/dbsync/oplist.h \
	"$libdir_rel/pkgconfig/dbsync.pc" \
	"$libdir_rel/cmake/dbsync/dbsyncConfig.cmake" \
	"$libdir_rel/cmake/dbsync/dbsyncConfigVersion.cmake" \
	"$libdir_rel/libdbsync.a" bin/dbsync; do
	check "installed $f" test -f "$prefix/$f"
done
# The headers that are installed are exactly the ones in the source tree.
src_headers=$(cd "$here/../../libdbsync/include" && find . -name '*.h' | sort)
inst_headers=$(cd "$prefix/include" && find . -name '*.h' | sort)
check "installed headers = libdbsync/include" test "$src_headers" = "$inst_headers"

# libdbsync.so -> libdbsync.so.1 -> the real file; the SONAME is the ABI
# major, not the release version.
so=$libdir/libdbsync.so
check "libdbsync.so links to libdbsync.so.1" \
	test "$(readlink "$so")" = libdbsync.so.1
check "libdbsync.so.1 is a link to a file" test -L "$libdir/libdbsync.so.1" -a -f "$libdir/libdbsync.so.1"
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
check "SONAME is libdbsync.so.1 (got '$soname')" test "$soname" = libdbsync.so.1

# Exports: dbsync_* only (everything else is hidden), and every function
# the installed headers declare is really there.
nm -D --defined-only "$so" | awk '{ print $NF }' | sort -u >"$work/exported.txt"
grep -v '^dbsync_' "$work/exported.txt" >"$work/stray.txt" || true
check "only dbsync_* symbols exported (others: $(tr '\n' ' ' <"$work/stray.txt"))" \
	test ! -s "$work/stray.txt"
cat "$prefix"/include/dbsync.h "$prefix"/include/dbsync/*.h |
	sed -n 's/.*DBSYNC_EXTERN([^)]*)[[:space:]]*\(dbsync_[a-z0-9_]*\).*/\1/p' |
	sort -u >"$work/declared.txt"
check "the headers declare functions" test -s "$work/declared.txt"
comm -23 "$work/declared.txt" "$work/exported.txt" >"$work/missing.txt"
check "every declared function is exported (missing: $(tr '\n' ' ' <"$work/missing.txt"))" \
	test ! -s "$work/missing.txt"

# The reference in docs/c-api.md covers every public function.
docs=$here/../../docs/c-api.md
while read -r fn; do
	grep -q "\b$fn(" "$docs" || echo "$fn"
done <"$work/declared.txt" >"$work/undocumented.txt"
check "docs/c-api.md documents every function (missing: $(tr '\n' ' ' <"$work/undocumented.txt"))" \
	test ! -s "$work/undocumented.txt"

# The umbrella header stands alone, in strict C99 and in C++.
printf '#include <dbsync.h>\nint main(void) { return dbsync_version_number() > 0 ? 0 : 1; }\n' >"$work/header.c"
check "dbsync.h compiles as C99 -pedantic" \
	cc -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only \
	-I"$prefix/include" "$work/header.c"
if command -v c++ >/dev/null; then
	check "dbsync.h compiles as C++" \
		c++ -x c++ -Wall -Wextra -Werror -fsyntax-only \
		-I"$prefix/include" "$work/header.c"
fi

# ---- consumers ----
# A database with a table, made by another program: the consumer links
# nothing but dbsync.
make_db() {
	rm -f "$1"
	sqlite3 "$1" 'CREATE TABLE city (id INTEGER PRIMARY KEY, name TEXT);'
}
# run_consumer NAME BINARY: it must link the installed libdbsync (or none,
# when static) and print what consumer.c prints on success.
run_consumer() {
	local name=$1 bin=$2 db=$work/$1.db out=$work/$1.out
	if [ "$name" != cmake-static ]; then
		local linked
		linked=$(ldd "$bin" | sed -n 's/.*libdbsync\.so\.1 => \(.*\) (0x.*/\1/p')
		check "$name links the installed libdbsync.so.1 (got '$linked')" \
			test -n "$linked" -a "$linked" -ef "$libdir/libdbsync.so.1"
	else
		check "$name does not need libdbsync.so" \
			bash -c "! ldd '$bin' | grep -q libdbsync"
	fi
	make_db "$db"
	if ! "$bin" "$db" city >"$out" 2>&1; then
		echo "FAIL: $name exited non-zero:" >&2
		cat "$out" >&2
		failed=$((failed + 1))
		return
	fi
	sed "s/^/  $name: /" "$out"
	check "$name: version" grep -qx "version $version $(echo "$version" | awk -F. '{ print $1 * 10000 + $2 * 100 + $3 }') header $version" "$out"
	check "$name: tracked" grep -qx "tracked city: 1" "$out"
	check "$name: missing table" grep -qx "missing table: -21 NOT_FOUND" "$out"
	check "$name: pending" grep -qx "pending: 0 ops (rc 0)" "$out"
}

echo "== pkg-config consumer"
export PKG_CONFIG_PATH=$libdir/pkgconfig
check "pkg-config knows dbsync $version" \
	test "$(pkg-config --modversion dbsync)" = "$version"
check "pkg-config libdir is the install prefix's" \
	test "$(pkg-config --variable=libdir dbsync)" -ef "$libdir"
# The rpath comes from pkg-config's libdir, so the run also proves that
# the .pc file points at the prefix it was installed into.
# shellcheck disable=SC2046,SC2086
if cc $cflags -Wall -Wextra -Werror -o "$work/app-pkgconfig" \
	"$here/consumer/consumer.c" $(pkg-config --cflags --libs dbsync) \
	-Wl,-rpath,"$(pkg-config --variable=libdir dbsync)"; then
	passed=$((passed + 1))
	run_consumer pkgconfig "$work/app-pkgconfig"
else
	echo "FAIL: building with pkg-config" >&2
	failed=$((failed + 1))
fi

echo "== CMake consumer (find_package)"
if cmake -S "$here/consumer" -B "$work/cmake-build" \
	-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS="$cflags -Wall -Wextra -Werror" \
	-DCMAKE_EXE_LINKER_FLAGS="$cflags" >"$work/cmake-configure.log" 2>&1 &&
	cmake --build "$work/cmake-build" >"$work/cmake-build.log" 2>&1; then
	passed=$((passed + 1))
	run_consumer cmake "$work/cmake-build/app"
	run_consumer cmake-static "$work/cmake-build/app_static"
else
	echo "FAIL: building the CMake consumer:" >&2
	cat "$work/cmake-configure.log" "$work/cmake-build.log" >&2 || true
	failed=$((failed + 1))
fi

echo "== installed CLI"
check "bin/dbsync --version" grep -q "^dbsync $version " <("$prefix/bin/dbsync" --version)

finish
