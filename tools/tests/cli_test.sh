#!/usr/bin/env bash
# tools/tests/cli_test.sh - the `dbsync` CLI: every command, its human and
# JSON output, and every exit code it documents (docs/cli.md). The server
# commands run against real dbsyncd processes on free loopback ports, which
# the test starts and always stops.
#
#   bash cli_test.sh PATH/TO/dbsync WORKDIR [PATH/TO/dbsyncd]
#
# dbsyncd is looked for next to dbsync unless given.
set -euo pipefail

cli=$(readlink -f "$1")
work=$2
server_exe=$(readlink -f "${3:-$(dirname "$cli")/dbsyncd}")
rm -rf "$work"
mkdir -p "$work"
cd "$work"
# The environment must not choose a server for the tests.
unset DBSYNC_SERVER

passed=0
failed=0
out=out.txt
err=err.txt

fail() {
	echo "FAIL: $*" >&2
	echo "  stdout: $(cat "$out")" >&2
	echo "  stderr: $(cat "$err")" >&2
	failed=$((failed + 1))
}
ok() { passed=$((passed + 1)); }

# expect CODE DESCRIPTION -- ARGS...: run the CLI, check the exit code.
expect() {
	local want=$1 what=$2 got=0
	shift 3
	"$cli" "$@" >"$out" 2>"$err" || got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$what: exit $got, expected $want (dbsync $*)"
		return 0
	fi
	ok
}
# Helpers that check the last run's output. A failed check is counted and
# the run goes on, so one run reports every broken expectation.
stdout_has() { grep -qF -- "$1" "$out" || { fail "stdout lacks '$1'"; return 0; }; ok; }
stderr_has() { grep -qF -- "$1" "$err" || { fail "stderr lacks '$1'"; return 0; }; ok; }
# stdout_line N TEXT: line N of stdout is exactly TEXT.
stdout_line() { [ "$(sed -n "$1p" "$out")" = "$2" ] || { fail "stdout line $1 is not '$2'"; return 0; }; ok; }
stdout_lacks() { ! grep -qF -- "$1" "$out" || { fail "stdout has '$1'"; return 0; }; ok; }
stderr_empty() { [ ! -s "$err" ] || { fail "stderr is not empty"; return 0; }; ok; }
# json_check PYTHON-EXPR: stdout is one JSON document `d` and EXPR holds.
json_check() {
	python3 - "$out" "$1" <<'PY' || { fail "JSON check: $1"; return 0; }
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
if not eval(sys.argv[2]):
    sys.exit(f"false for {d!r}")
PY
	ok
}
# The error line format every failure shares.
error_line() { head -n1 "$err" | grep -q '^dbsync: .' || { fail "stderr does not start with 'dbsync: '"; return 0; }; ok; }

db=app.db
sqlite3 "$db" <<'SQL'
CREATE TABLE city (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE person (id INTEGER PRIMARY KEY, name TEXT,
                     city_id INTEGER REFERENCES city(id));
CREATE TABLE nokey (a, b);
CREATE TABLE twokeys (a INTEGER, b INTEGER, PRIMARY KEY (a, b));
CREATE TABLE tags (name TEXT PRIMARY KEY);
CREATE TABLE blobs (k BLOB PRIMARY KEY);
CREATE TABLE "odd ""name""	tab" (id INTEGER PRIMARY KEY);
SQL

# ---- help and version: exit 0, no database needed ----
expect 0 "global help" -- --help
stdout_has "usage: dbsync --db FILE"
stdout_has "Exit codes:"
for c in track untrack pending compact status register push pull sync repair; do
	stdout_has "  $c"
done
for code in 7 8 9 10 11 12; do stdout_has "  $code  "; done
stdout_has "--server URL"
stdout_has "DBSYNC_SERVER"
stderr_empty
expect 0 "-h" -- -h
expect 0 "help command" -- help
expect 0 "help track" -- help track
stdout_has "--direction both|push|pull"
expect 0 "track --help without --db" -- track --help
stdout_has "usage: dbsync --db FILE [--json] track TABLE..."
expect 0 "pending -h" -- pending -h
expect 0 "compact --help" -- compact --help
expect 0 "untrack --help" -- untrack --help
expect 0 "--version" -- --version
stdout_has "dbsync 0."
expect 0 "--json --version" -- --json --version
json_check 'd["dbsync"].count(".") == 2 and d["sqlite"].startswith("3.")'

# ---- usage errors: exit 2 ----
expect 2 "no arguments" --
error_line
stderr_has "missing COMMAND"
expect 2 "unknown command" -- --db "$db" frobnicate
stderr_has "unknown command 'frobnicate'"
expect 2 "sync without --server" -- --db "$db" sync
stderr_has "--server URL is required (or set DBSYNC_SERVER)"
stderr_has "Try 'dbsync sync --help'."
expect 2 "unknown global option" -- --frob pending
stderr_has "unknown option '--frob'"
expect 2 "unknown command option" -- --db "$db" pending --frob
stderr_has "Try 'dbsync pending --help'."
expect 2 "--db without a value" -- --db
expect 2 "missing --db" -- pending
stderr_has "--db FILE is required"
expect 2 "track without a table" -- --db "$db" track
stderr_has "missing TABLE"
expect 2 "untrack without a table" -- --db "$db" untrack
expect 2 "bad direction" -- --db "$db" track city --direction sideways
stderr_has "unknown direction 'sideways'"
expect 2 "direction without a value" -- --db "$db" track city --direction
expect 2 "pending with an operand" -- --db "$db" pending city
expect 2 "compact with an operand" -- --db "$db" compact now
expect 2 "help for an unknown command" -- help frobnicate
expect 2 "empty table name" -- --db "$db" track ""
error_line
# Usage errors in --json mode still give one JSON document on stdout.
expect 2 "json usage error" -- --json --db "$db" pending extra
json_check 'd["error"]["code"] == -3 and d["error"]["name"] == "INVALID"'

# ---- not found: exit 3 ----
expect 3 "missing database file" -- --db missing.db pending
stderr_has "dbsync: missing.db: no such database file"
if [ -e missing.db ]; then fail "a missing --db file was created"; else ok; fi
expect 3 "missing table" -- --db "$db" track nosuchtable
error_line
stderr_has "nosuchtable"
expect 3 "json missing table" -- --json --db "$db" track nosuchtable
json_check 'd["tracked"] == [] and d["error"]["code"] == -21 and d["error"]["name"] == "NOT_FOUND" and "nosuchtable" in d["error"]["message"]'
expect 3 "untrack an untracked table" -- --db "$db" untrack city
error_line

# ---- schema: exit 4 ----
expect 4 "table without a primary key" -- --db "$db" track nokey
error_line
stderr_has "nokey"
expect 4 "composite primary key" -- --db "$db" track twokeys
expect 4 "json schema error" -- --json --db "$db" track twokeys
json_check 'd["error"]["name"] == "SCHEMA" and d["error"]["code"] == -5'

# ---- database errors: exit 5 ----
printf 'this is not a database, just some text that is long enough %.0s' 1 2 3 4 5 6 7 8 >junk.db
expect 5 "not a database" -- --db junk.db pending
error_line
mkdir adir
expect 5 "a directory" -- --db adir pending

# ---- track: human and JSON ----
expect 0 "track two tables" -- --db "$db" track city person
stdout_has "tracked city (direction both)"
stdout_has "tracked person (direction both)"
stderr_empty
expect 0 "track again" -- --db "$db" track city
stdout_has "city: already tracked (direction both)"
expect 0 "change direction" -- --db "$db" track city --direction=push
stdout_has "city: direction changed from both to push"
expect 0 "json track" -- --db "$db" track --direction pull --json city
json_check 'd == {"tracked": [{"table": "city", "direction": "pull", "previous": "push"}]}'
expect 0 "back to both" -- --db "$db" track city --direction both
# Partial success: the tables before the failing one stay tracked and are
# listed; the failure sets the exit code.
expect 3 "track, one table missing" -- --json --db "$db" track tags nosuch blobs
json_check '[t["table"] for t in d["tracked"]] == ["tags"] and d["error"]["name"] == "NOT_FOUND"'
expect 0 "track the rest" -- --db "$db" track blobs 'odd "name"	tab'

# ---- pending ----
expect 0 "pending, empty" -- --db "$db" pending
stdout_has "no pending operations"
expect 0 "json pending, empty" -- --db "$db" pending --json
json_check 'd == {"count": 0, "operations": []}'

sqlite3 "$db" <<'SQL'
PRAGMA foreign_keys = ON;
INSERT INTO city VALUES (1, 'Lisbon');
INSERT INTO person VALUES (7, 'Ana', 1);
INSERT INTO tags VALUES ('it''s "quoted" – ünïcödé');
INSERT INTO blobs VALUES (X'00ff10');
INSERT INTO "odd ""name""	tab" VALUES (1);
SQL
expect 0 "pending, human" -- --db "$db" pending
stdout_has "5 pending operations, in push order:"
stdout_has "insert  1"
stdout_has "'it''s \"quoted\" – ünïcödé'"
stdout_has "X'00ff10'"
expect 0 "pending, json" -- --json --db "$db" pending
json_check 'd["count"] == 5 and len(d["operations"]) == 5'
json_check '{(o["table"], o["op"], o["pk_type"], o["pk"]) for o in d["operations"]} == {("city", "i", "integer", 1), ("person", "i", "integer", 7), ("tags", "i", "text", "it'"'"'s \"quoted\" – ünïcödé"), ("blobs", "i", "blob", "00ff10"), ("odd \"name\"\ttab", "i", "integer", 1)}'
json_check 'all(isinstance(o["seq"], int) for o in d["operations"])'
# Push order puts the parent's insert before its child's.
json_check '[o["table"] for o in d["operations"]].index("city") < [o["table"] for o in d["operations"]].index("person")'
# Options may come after the command too.
expect 0 "options after the command" -- pending --db "$db" --json
json_check 'd["count"] == 5'

# ---- compact ----
sqlite3 "$db" "UPDATE city SET name = 'Lisboa' WHERE id = 1; UPDATE city SET name = 'Lisbon' WHERE id = 1;"
expect 0 "compact" -- --db "$db" compact
stdout_has "log compacted: 5 pending operations"
expect 0 "json compact" -- --db "$db" --json compact
json_check 'd == {"compacted": True, "pending": 5}'

# ---- untrack ----
expect 0 "untrack" -- --db "$db" untrack blobs
stdout_has "untracked blobs (1 pending operation dropped)"
expect 0 "json untrack" -- --db "$db" --json untrack tags
json_check 'd == {"untracked": [{"table": "tags", "dropped_pending": 1}]}'
expect 0 "pending after untrack" -- --db "$db" --json pending
json_check 'd["count"] == 3 and "tags" not in [o["table"] for o in d["operations"]]'

# ---- busy: exit 6 ----
# Another program holds the write lock longer than the library waits for it.
python3 - "$db" <<'PY' &
import sqlite3, sys, time, os
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
open("locked", "w").close()
while os.path.exists("locked"):
    time.sleep(0.05)
con.execute("ROLLBACK")
PY
holder=$!
for _ in $(seq 100); do [ -e locked ] && break; sleep 0.1; done
expect 6 "database locked by another writer" -- --db "$db" track person --direction push
error_line
rm -f locked
wait "$holder"

# ==== the commands that talk to a server ====================================

# ---- help, without --db or --server ----
for c in status register push pull sync repair; do
	expect 0 "$c --help" -- "$c" --help
	stdout_has "usage: dbsync --db FILE"
	stdout_has "Exit codes:"
done
expect 0 "push --help names the server options" -- push --help
stdout_has "usage: dbsync --db FILE --server URL [--ca-file FILE] [--json] push"
stdout_has "  8  pull required"
expect 0 "pull --help" -- help pull
stdout_has "--page-size N"
stdout_has "--policy TABLE=POLICY"
expect 0 "sync --help" -- sync --help
stdout_has "sync [--page-size N] [--policy POLICY]..."
expect 0 "register --help" -- register -h
stdout_has "--token-file FILE"

# ---- usage errors, before anything touches the network ----
expect 2 "push without --server" -- --db "$db" push
stderr_has "--server URL is required"
expect 2 "json push without --server" -- --db "$db" --json push
json_check 'd["error"]["name"] == "INVALID" and "--server" in d["error"]["message"]'
expect 2 "a server URL that is not http" -- --db "$db" --server ftp://example.org pull
stderr_has "--server ftp://example.org"
expect 2 "--server without a value" -- --db "$db" pull --server
stderr_has "--server needs a URL"
expect 2 "--page-size 0" -- --db "$db" --server http://127.0.0.1:9 pull --page-size 0
stderr_has "--page-size: '0' is not a number"
expect 2 "--page-size not a number" -- --db "$db" --server http://127.0.0.1:9 sync --page-size=ten
expect 2 "--page-size on push" -- --db "$db" --server http://127.0.0.1:9 push --page-size 10
stderr_has "unknown option '--page-size'"
expect 2 "--token on pull" -- --db "$db" --server http://127.0.0.1:9 pull --token x
expect 2 "--token and --token-file" -- --db "$db" --server http://127.0.0.1:9 register --token a --token-file b
expect 2 "status with an operand" -- --db "$db" status now
expect 2 "status with a bad URL" -- --db "$db" --server nope status
expect 3 "a missing --ca-file" -- --db "$db" --server https://127.0.0.1:9 --ca-file nosuch.pem pull
stderr_has "--ca-file nosuch.pem"
expect 3 "a missing --token-file" -- --db "$db" --server http://127.0.0.1:9 register --token-file nosuch
expect 3 "push, missing database" -- --db missing.db --server http://127.0.0.1:9 push

# ---- servers ----
# start_server NAME ARGS...: a dbsyncd with a store NAME.db on a free port;
# its URL in $url, its pid in $server_pid. Every server is stopped at exit.
if [ ! -x "$server_exe" ]; then
	echo "FAIL: dbsyncd not found at $server_exe" >&2
	echo "cli: $passed passed, $((failed + 1)) failed"
	exit 1
fi
server_pids=()
stop_servers() {
	local p
	for p in "${server_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
trap stop_servers EXIT
start_server() {
	local name=$1
	shift
	"$server_exe" --store "sqlite:$name.db" --listen 127.0.0.1:0 \
		--port-file "$name.port" "$@" 2>"$name.log" &
	server_pid=$!
	server_pids+=("$server_pid")
	for _ in $(seq 100); do
		[ -s "$name.port" ] && break
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "FAIL: dbsyncd $name did not start: $(cat "$name.log")" >&2
			exit 1
		fi
		sleep 0.1
	done
	[ -s "$name.port" ] || { echo "FAIL: dbsyncd $name wrote no port file" >&2; exit 1; }
	url="http://127.0.0.1:$(cat "$name.port")"
}
cat >schema.sql <<'SQL'
CREATE TABLE IF NOT EXISTS city (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS person (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                   city_id INTEGER REFERENCES city(id));
SQL
# Writes straight into a running server's store wait for its lock.
server_sql() { sqlite3 -bail -cmd '.timeout 10000' "$@"; }
# new_client FILE: the same schema, both tables tracked.
new_client() {
	sqlite3 -bail "$1" <schema.sql
	"$cli" --db "$1" track city person >/dev/null
}
# The server's and a client's rows, to compare.
rows() { sqlite3 "$1" "SELECT 'c', * FROM city ORDER BY id; SELECT 'p', * FROM person ORDER BY id;"; }
# same_rows A B [ROWS]: the databases' rows as the function ROWS (default
# rows) prints them are the same.
same_rows() {
	local show=${3:-rows}
	if [ "$("$show" "$1")" = "$("$show" "$2")" ]; then ok; else
		fail "$1 and $2 differ"
	fi
}

start_server open --schema schema.sql --track city,person --registration open
open_url=$url
start_server tokened --schema schema.sql --track city,person --registration token:s3cret
token_url=$url
# A server that is gone: started, then stopped, so nothing listens there.
start_server gone --schema schema.sql --track city,person --registration open
gone_url=$url
kill -TERM "$server_pid"
wait "$server_pid" || true

new_client a.db
new_client b.db

# ---- status without a server: local facts only ----
expect 0 "status, unregistered" -- --db a.db status
stdout_has "node:     not registered"
stdout_has "version:  none yet"
stdout_has "server:   not checked"
stderr_empty
expect 0 "json status, unregistered" -- --db a.db --json status
json_check 'd["registered"] is False and d["node_id"] is None and d["latest_version"] is None'
json_check 'd["pending"] == 0 and d["tables"] == [{"table": "city", "direction": "both", "pending": 0}, {"table": "person", "direction": "both", "pending": 0}]'
json_check 'd["server"] == {"url": None, "checked": False, "reachable": None, "address": None, "error": None}'

# ---- not registered: exit 9 ----
sqlite3 a.db "INSERT INTO city VALUES (1, 'Lisbon'); INSERT INTO person VALUES (1, 'Ana', 1);"
expect 9 "push, not registered" -- --db a.db --server "$open_url" push
error_line
stderr_has "register"
expect 9 "json push, not registered" -- --db a.db --server "$open_url" --json push
json_check 'd["error"]["name"] == "NOT_REGISTERED" and d["error"]["code"] == -10'
expect 9 "pull, not registered" -- --db a.db --server "$open_url" pull
expect 9 "sync, not registered" -- --db a.db --server "$open_url" sync

# ---- network: exit 7 ----
expect 7 "register with a stopped server" -- --db a.db --server "$gone_url" register
error_line
expect 7 "json register, stopped server" -- --db a.db --server "$gone_url" --json register
json_check 'd["error"]["name"] == "NETWORK"'
expect 0 "status, stopped server" -- --db a.db --server "$gone_url" status
stdout_has "NOT reachable"
expect 0 "json status, stopped server" -- --db a.db --server "$gone_url" --json status
json_check 'd["server"]["checked"] is True and d["server"]["reachable"] is False and d["server"]["error"] and d["server"]["url"] == "'"$gone_url"'"'

# ---- register: open and with a token (auth: exit 10) ----
expect 0 "register" -- --db a.db --server "$open_url" register
stdout_has "registered with $open_url as node "
stderr_empty
expect 0 "json register again" -- --db b.db --server "$open_url" --json register
json_check 'isinstance(d["node_id"], int) and d["previous_node_id"] is None and d["registered"] is True and d["server"] == "'"$open_url"'"'
b_node=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["node_id"])' "$out")
expect 0 "json register replaces the node" -- --db b.db --server "$open_url" --json register
json_check 'd["previous_node_id"] == '"$b_node"' and d["node_id"] != '"$b_node"
new_client t.db
expect 10 "register without the server's token" -- --db t.db --server "$token_url" register
error_line
expect 10 "json register with a wrong token" -- --db t.db --server "$token_url" --json register --token wrong
json_check 'd["error"]["name"] == "REGISTRATION_REFUSED"'
if grep -q wrong "$err" "$out"; then fail "the token was printed"; else ok; fi
printf 's3cret\n' >token.txt
expect 0 "register with --token-file" -- --db t.db --server "$token_url" register --token-file token.txt
expect 0 "register with --token" -- --db t.db --server "$token_url" register --token=s3cret
if grep -q s3cret "$out" "$err"; then fail "the token was printed"; else ok; fi
: >empty.txt
expect 2 "an empty --token-file" -- --db t.db --server "$token_url" register --token-file empty.txt

# DBSYNC_SERVER stands for --server; --server wins over it.
export DBSYNC_SERVER=$open_url
expect 0 "status with DBSYNC_SERVER" -- --db a.db status
stdout_has "server:   $open_url reachable"
expect 0 "json status, registered" -- --db a.db --json status
json_check 'd["registered"] is True and isinstance(d["node_id"], int) and d["pending"] == 2'
json_check 'd["tables"] == [{"table": "city", "direction": "both", "pending": 1}, {"table": "person", "direction": "both", "pending": 1}]'
json_check 'd["server"]["reachable"] is True and d["server"]["error"] is None and d["server"]["address"].startswith("127.0.0.1:")'
expect 7 "--server wins over DBSYNC_SERVER" -- --db a.db --server "$gone_url" push

# ---- push, pull required (exit 8), sync ----
expect 0 "push" -- --db a.db push
stdout_has "pushed 2 operations; now at version 1"
stderr_empty
expect 0 "json push, nothing to push" -- --db a.db --json push
json_check 'd == {"pushed": 0, "latest_version": 1, "pending": 0}'
sqlite3 b.db "INSERT INTO city VALUES (2, 'Porto'); INSERT INTO person VALUES (2, 'Bruno', 2);"
expect 8 "push needs a pull" -- --db b.db push
error_line
stderr_has "dbsync sync"
expect 8 "json push needs a pull" -- --db b.db --json push
json_check 'd["error"]["name"] == "PULL_REQUIRED" and d["error"]["code"] == -12'
expect 0 "pending again after the refused push" -- --db b.db --json pending
json_check 'd["count"] == 2'
expect 0 "sync pulls, then pushes" -- --db b.db sync
stdout_has "pull required"
stdout_has "pulled 2 operations first"
stdout_has "pushed 2 operations"
stdout_has "nothing pending"
sqlite3 a.db "UPDATE person SET name = 'Ana Silva' WHERE id = 1;"
sqlite3 b.db "DELETE FROM person WHERE id = 2;"
expect 0 "json sync" -- --db a.db --json sync
json_check 'd["pushed"] == 1 and d["pulled"] == 2 and d["pending"] == 0 and d["previous_version"] == 1 and d["latest_version"] == 3'
expect 0 "json sync, the other side" -- --db b.db --json sync
json_check 'd["pushed"] == 1 and d["pulled"] == 1 and d["pending"] == 0 and d["latest_version"] == 4'
expect 0 "pull" -- --db a.db pull
stdout_has "pulled 1 operation; now at version 4 (was 3)"
expect 0 "pull, up to date" -- --db a.db pull
stdout_has "already up to date (version 4)"
expect 0 "json pull, up to date" -- --db a.db --json pull
json_check 'd == {"pulled": 0, "latest_version": 4, "previous_version": 4, "conflicts": []}'
same_rows a.db open.db
same_rows b.db open.db

# ---- repair ----
sqlite3 b.db "INSERT INTO city VALUES (9, 'Braga');"  # stays pending
expect 0 "repair" -- --db b.db repair
stdout_has "repaired: the tracked tables hold the server's copy"
stdout_has "1 pending operation kept"
expect 0 "json repair" -- --db b.db --json repair --page-size 1
json_check 'd["repaired"] is True and d["rows"] == 3 and d["latest_version"] == 4 and d["pending"] == 1'
expect 0 "sync after the repair" -- --db b.db --json sync
json_check 'd["pushed"] == 1 and d["pending"] == 0'

# ---- repair required: exit 11; sync repairs by itself ----
# dbsyncd has no trim command; this marks the store trimmed through
# version 5 the way dbsync_server_trim records it (white box, on purpose).
server_sql open.db "INSERT OR REPLACE INTO dbsync_meta(key, value) VALUES ('trimmed_through', 5)"
server_sql open.db "INSERT INTO city VALUES (10, 'Aveiro')"
expect 11 "pull behind a trim" -- --db a.db pull
error_line
stderr_has "dbsync repair"
expect 11 "json pull behind a trim" -- --db a.db --json pull
json_check 'd["error"]["name"] == "REPAIR_REQUIRED"'
expect 0 "sync repairs" -- --db a.db --json sync
json_check 'd["pending"] == 0 and d["latest_version"] >= 6'
same_rows a.db open.db

# ---- conflict: exit 12 ----
# The server alone has a unique index on city names; a client without it
# pushes a duplicate name.
start_server strict --schema schema.sql --track city,person --registration open
strict_url=$url
server_sql strict.db "CREATE UNIQUE INDEX city_name ON city(name)"
new_client c.db
"$cli" --db c.db --server "$strict_url" register >/dev/null
sqlite3 c.db "INSERT INTO city VALUES (1, 'Lisbon'), (2, 'Lisbon');"
expect 12 "a push the server cannot apply" -- --db c.db --server "$strict_url" push
error_line
expect 12 "json conflict" -- --db c.db --server "$strict_url" --json push
json_check 'd["error"]["name"] in ("CONFLICT", "UNIQUE_CONFLICT")'

# ---- conflicts met by pull and sync; --policy ----
# Two clients of a server of their own. A table whose name has quotes and a
# tab, with a text key that has a quote and a non-ASCII letter, checks how
# they are escaped; member's unique email gives the unique collision.
cat >conflict_schema.sql <<'SQL'
CREATE TABLE IF NOT EXISTS city (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS member (id INTEGER PRIMARY KEY,
                                   email TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS "odd ""name""	tab" (k TEXT PRIMARY KEY, v TEXT);
SQL
odd='odd "name"	tab'
odd_sql='"odd ""name""	tab"'
conflict_rows() {
	sqlite3 "$1" "SELECT 'c', * FROM city ORDER BY id; SELECT 'm', * FROM member ORDER BY id;
	              SELECT 'o', * FROM $odd_sql ORDER BY k;"
}
# value DB SQL: what the query reads.
value() { sqlite3 "$1" "$2"; }
is() { if [ "$1" = "$2" ]; then ok; else fail "$3: '$1', expected '$2'"; fi; }
start_server conflicts --schema conflict_schema.sql --track-all --registration open
export DBSYNC_SERVER=$url
for c in ka kb; do
	sqlite3 -bail "$c.db" <conflict_schema.sql
	"$cli" --db "$c.db" track city member "$odd" >/dev/null
	"$cli" --db "$c.db" register >/dev/null
done
sqlite3 ka.db "INSERT INTO city VALUES (1, 'Oslo'); INSERT INTO $odd_sql VALUES ('it''s ü', 'x');"
"$cli" --db ka.db sync >/dev/null
"$cli" --db kb.db sync >/dev/null
# both_edit A-CITY A-V B-CITY B-V: ka edits city 1 and the odd row and
# syncs; kb edits them too, offline.
both_edit() {
	sqlite3 ka.db "UPDATE city SET name = '$1' WHERE id = 1; UPDATE $odd_sql SET v = '$2'"
	"$cli" --db ka.db sync >/dev/null
	sqlite3 kb.db "UPDATE city SET name = '$3' WHERE id = 1; UPDATE $odd_sql SET v = '$4'"
}

# Local wins (the default): listed after the pull that met them.
both_edit 'Oslo A' A 'Oslo B' B
expect 0 "sync meets u/u conflicts" -- --db kb.db sync
stdout_line 1 "the server was ahead (pull required): pulled 2 operations first"
stdout_line 2 "conflicts: 2"
stdout_has "  u/u city 1: kept local"
# Names are printed as they are, keys as SQL literals (as pending does).
stdout_has "  u/u $odd 'it''s ü': kept local"
stdout_has "pushed 2 operations"
stderr_empty
is "$(value kb.db "SELECT name FROM city WHERE id = 1")" "Oslo B" "local wins keeps kb's city"
"$cli" --db ka.db pull >/dev/null
same_rows ka.db conflicts.db conflict_rows
same_rows kb.db conflicts.db conflict_rows
expect 0 "a pull without conflicts lists none" -- --db kb.db pull
stdout_lacks "conflicts"

both_edit 'Oslo C' C 'Oslo D' D
expect 0 "json pull lists the conflicts" -- --db kb.db --json pull --policy local-wins
json_check 'd["pulled"] == 2 and sorted(d["conflicts"], key=lambda c: c["table"]) == [{"kind": "update_update", "table": "city", "pk_type": "integer", "pk": 1, "remote": "u", "resolution": "keep_local"}, {"kind": "update_update", "table": "odd \"name\"\ttab", "pk_type": "text", "pk": "it\u0027s ü", "remote": "u", "resolution": "keep_local"}]'
stderr_empty
# The report is handed over once: the next command starts a new one.
expect 0 "json sync after the pull" -- --db kb.db --json sync
json_check 'd["pushed"] == 2 and d["pulled"] == 0 and d["conflicts"] == []'
"$cli" --db ka.db pull >/dev/null

# Server wins, for every table: kb ends with ka's rows, nothing pending.
both_edit 'Oslo E' E 'Oslo F' F
expect 0 "sync --policy server-wins" -- --db kb.db --json sync --policy server-wins
json_check 'd["pending"] == 0 and sorted((c["table"], c["resolution"]) for c in d["conflicts"]) == [("city", "take_remote"), ("odd \"name\"\ttab", "take_remote")]'
is "$(value kb.db "SELECT name FROM city WHERE id = 1")" "Oslo E" "server-wins takes the server's city"
same_rows kb.db conflicts.db conflict_rows
same_rows ka.db conflicts.db conflict_rows
# Server wins as the default, local wins for city: the table's own policy
# decides for it, whatever the order.
both_edit 'Oslo G' G 'Oslo H' H
expect 0 "sync with a policy per table" -- --db kb.db sync --policy "city=local-wins" --policy server-wins
stdout_has "  u/u city 1: kept local"
stdout_has "  u/u $odd 'it''s ü': took remote"
is "$(value kb.db "SELECT name FROM city WHERE id = 1")" "Oslo H" "city=local-wins keeps kb's city"
is "$(value kb.db "SELECT v FROM $odd_sql")" "G" "the default server-wins takes the server's row"
"$cli" --db ka.db pull >/dev/null
same_rows ka.db conflicts.db conflict_rows
same_rows kb.db conflicts.db conflict_rows
# A table name holding '=' is the part before the last one.
sqlite3 kb.db 'CREATE TABLE "a=b" (id INTEGER PRIMARY KEY)'
"$cli" --db kb.db track 'a=b' >/dev/null
expect 0 "a policy for a table named with '='" -- --db kb.db pull --policy 'a=b=server-wins'

# A bad --policy is a usage error and changes nothing.
sqlite3 kb.db "UPDATE city SET name = 'Oslo pending' WHERE id = 1"
sqlite3 ka.db "UPDATE city SET name = 'Oslo ahead' WHERE id = 1"
"$cli" --db ka.db sync >/dev/null
before=$(sha256sum <kb.db)
expect 2 "unknown policy" -- --db kb.db sync --policy remote-wins
error_line
stderr_has "--policy 'remote-wins': unknown policy 'remote-wins' (expected local-wins, server-wins, or TABLE=local-wins|server-wins)"
stderr_has "Try 'dbsync sync --help'."
expect 2 "unknown policy for a table" -- --db kb.db pull --policy city=server-win
stderr_has "unknown policy 'server-win'"
expect 2 "the callback policy" -- --db kb.db pull --policy callback
stderr_has "the callback policy needs a program"
expect 2 "a policy without a table name" -- --db kb.db sync --policy =server-wins
stderr_has "--policy '=server-wins': the table name is empty"
expect 2 "a table without a policy" -- --db kb.db sync --policy city=
expect 2 "--policy without a value" -- --db kb.db sync --policy
stderr_has "--policy needs a POLICY"
expect 2 "a policy for an untracked table" -- --db kb.db sync --policy citty=server-wins
stderr_has "--policy: 'citty' is not a tracked table"
expect 2 "a good policy, then an untracked table" -- --db kb.db sync --policy server-wins --policy nosuch=local-wins
expect 2 "--policy on push" -- --db kb.db push --policy server-wins
stderr_has "unknown option '--policy'"
expect 2 "--policy on repair" -- --db kb.db repair --policy server-wins
expect 2 "json bad policy" -- --db kb.db --json pull --policy 'server wins'
json_check 'd["error"]["name"] == "INVALID" and "server wins" in d["error"]["message"] and "conflicts" not in d'
is "$(sha256sum <kb.db)" "$before" "a bad --policy changed the database"
expect 0 "then a good one" -- --db kb.db sync --policy server-wins
is "$(value kb.db "SELECT name FROM city WHERE id = 1")" "Oslo ahead" "server-wins after the usage errors"

# A unique collision: kb's offline member 7 holds the email of ka's member
# 5. The pull stops before changing anything (exit 12) and lists the row.
sqlite3 ka.db "INSERT INTO member VALUES (5, 'dup@')"
"$cli" --db ka.db sync >/dev/null
sqlite3 kb.db "INSERT INTO member VALUES (7, 'dup@')"
before=$(sha256sum <kb.db)
expect 12 "pull meets a unique collision" -- --db kb.db pull
stdout_line 1 "conflicts: 1"
stdout_line 2 "  unique member 7 (email): your row holds a value the server's rows need; change it and sync again"
error_line
stderr_has "unique constraint"
is "$(sha256sum <kb.db)" "$before" "the failed pull changed the database"
# sync's refused push writes its own bookkeeping, so compare rows there.
before=$(conflict_rows kb.db)
expect 12 "json sync meets a unique collision" -- --db kb.db --json sync --policy server-wins
json_check 'd["conflicts"] == [{"kind": "unique", "table": "member", "pk_type": "integer", "pk": 7, "remote": "i", "columns": ["email"], "resolution": None}]'
json_check 'd["error"] == {"code": -14, "name": "UNIQUE_CONFLICT", "message": d["error"]["message"]} and "unique constraint" in d["error"]["message"]'
is "$(conflict_rows kb.db)" "$before" "the failed sync changed the rows"
expect 0 "the member is still pending" -- --db kb.db --json pending
json_check '[(o["table"], o["op"], o["pk"]) for o in d["operations"]] == [("member", "i", 7)]'
# The user renames the row; the next sync goes through.
sqlite3 kb.db "UPDATE member SET email = 'dup2@' WHERE id = 7"
expect 0 "sync after the rename" -- --db kb.db sync
stdout_lacks "conflicts"
stdout_has "nothing pending"
"$cli" --db ka.db pull >/dev/null
same_rows ka.db conflicts.db conflict_rows
same_rows kb.db conflicts.db conflict_rows
is "$(value conflicts.db "SELECT group_concat(id || ' ' || email, ', ') FROM member")" "5 dup@, 7 dup2@" "the members on the server"

# ---- TLS: an untrusted certificate is exit 7; --ca-file trusts it ----
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.pem \
		-subj "/CN=cli test CA" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
		-subj /CN=127.0.0.1 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n' >ext.cnf
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile ext.cnf -out server.pem 2>/dev/null
	start_server tls --schema schema.sql --track city,person --registration open \
		--tls-cert server.pem --tls-key server.key
	tls_url=${url/http:/https:}
	new_client s.db
	expect 7 "https with an untrusted certificate" -- --db s.db --server "$tls_url" --json register
	json_check 'd["error"]["name"] == "TLS"'
	expect 0 "https with --ca-file" -- --db s.db --server "$tls_url" --ca-file ca.pem register
	stdout_has "registered with $tls_url"
	sqlite3 s.db "INSERT INTO city VALUES (1, 'Lisbon')"
	expect 0 "sync over https" -- --db s.db --server "$tls_url" --ca-file=ca.pem --json sync
	json_check 'd["pushed"] == 1 and d["pending"] == 0'
	same_rows s.db tls.db
else
	echo "cli: openssl not found, TLS checks skipped" >&2
fi

# ---- progress: drawn on a terminal only ----
# A few thousand rows written directly on a server of their own, pulled 50
# at a time.
start_server bulk --schema schema.sql --track city,person --registration open
export DBSYNC_SERVER=$url
server_sql bulk.db "WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM n WHERE i < 3999)
                 INSERT INTO city SELECT i, 'city ' || i FROM n;"
new_client p1.db
new_client p2.db
new_client p3.db
for c in p1 p2 p3; do "$cli" --db "$c.db" register >/dev/null; done
# pty_run STDERR-FILE ARGS...: the CLI with stderr on a pseudo-terminal
# (stdout to $out); what the terminal received goes to STDERR-FILE.
pty_run() {
	local got=0
	python3 - "$@" >"$out" <<'PY' || got=$?
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.Popen(sys.argv[2:], stderr=slave)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: every writer is gone
        break
    if not chunk:
        break
    data += chunk
with open(sys.argv[1], "wb") as f:
    f.write(data)
sys.exit(p.wait())
PY
	return "$got"
}
if pty_run tty.txt "$cli" --db p1.db pull --page-size 50; then ok; else fail "pull under a terminal"; fi
if grep -q 'pull \[' tty.txt && grep -q ' operations, ' tty.txt && grep -q $'\r' tty.txt; then
	ok
else
	fail "no progress bar on the terminal: $(head -c 300 tty.txt | od -c | head -n 5)"
fi
# The bar is erased at the end: the last thing drawn clears the line.
if python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(0 if d.endswith(b"\r\x1b[K") else 1)' tty.txt; then
	ok
else
	fail "the progress bar is not erased at the end"
fi
stdout_has "pulled 3000 operations"
if pty_run tty-repair.txt "$cli" --db p3.db --json repair --page-size 100; then ok; else fail "repair under a terminal"; fi
if grep -q 'repair \[' tty-repair.txt; then ok; else fail "no progress bar for repair"; fi
json_check 'd["rows"] >= 3000'
# Without a terminal: the same pull draws nothing.
expect 0 "pull without a terminal" -- --db p2.db pull --page-size 50
stderr_empty
stdout_has "pulled 3000 operations"
same_rows p1.db p2.db
# A short pull on a terminal draws nothing either.
if pty_run tty-short.txt "$cli" --db p1.db pull; then ok; else fail "short pull under a terminal"; fi
if [ -s tty-short.txt ]; then fail "a short pull drew a progress bar"; else ok; fi

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
