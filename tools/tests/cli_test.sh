#!/usr/bin/env bash
# tools/tests/cli_test.sh - the `dbsync` CLI: every command, its human and
# JSON output, and every exit code it documents (docs/cli.md).
#
#   bash cli_test.sh PATH/TO/dbsync WORKDIR
set -euo pipefail

cli=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
cd "$work"

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
for c in track untrack pending compact; do stdout_has "  $c"; done
# The server commands are not there yet and must not be advertised.
for c in register push pull sync repair status; do stdout_lacks "  $c"; done
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
expect 2 "server command not there yet" -- --db "$db" sync
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

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
