#!/usr/bin/env bash
# tools/demo.sh - what `./dev demo` runs: change capture on a client database.
#
#   bash tools/demo.sh [PATH/TO/dbsync] [DEMO_DIR]
#
# Until the server exists the demo stops at the client side: it tracks two
# tables, changes them from two different programs (the sqlite3 shell and
# Python's sqlite3 module, neither of which knows about dbsync), and shows
# the pending operations a push would send. It checks the result itself and
# exits non-zero when the list is not the expected one, so `./dev test` runs
# it to keep it true. With the server it becomes the two-client sync demo.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cli=$(readlink -f "${1:-$root/build/tools/dbsync}")
dir=${2:-$root/build/demo}
[ -x "$cli" ] || { echo "demo: $cli not found; run ./dev build" >&2; exit 1; }

# A fresh directory every time, so a run never depends on the last one.
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
db=client.db

# Shown as `dbsync ...` in the transcript; runs the freshly built CLI.
dbsync() { "$cli" "$@"; }
say() { printf '\n-- %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# The sqlite3 shell, stopping at the first error. Foreign keys are enforced
# per connection in SQLite, so every writer here turns them on.
shell() { sqlite3 -bail -cmd 'PRAGMA foreign_keys=ON' "$db" "$@"; }
sql() { printf 'sqlite3> %s\n' "$1"; shell "$1"; }
# py [--rollback] SQL...: Python's sqlite3 module, a second and independent
# program, runs the statements in one transaction (`with con:` commits, or
# rolls back when the block raises).
py() {
	python3 -c '
import sqlite3, sys
rollback = sys.argv[2] == "--rollback"
con = sqlite3.connect(sys.argv[1])
con.execute("PRAGMA foreign_keys=ON")
try:
    with con:
        for statement in sys.argv[3:]:
            print("python3>", statement)
            con.execute(statement)
        if rollback:
            print("python3> raise -> ROLLBACK")
            raise RuntimeError("changed my mind")
except RuntimeError:
    pass
con.close()' "$db" "$@"
}

say "1. create the database with the sqlite3 shell: city, and person with a foreign key to city; rows already there"
shell <<'SQL'
CREATE TABLE city (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE person (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                     city_id INTEGER REFERENCES city(id));
INSERT INTO city VALUES (1, 'Lisbon'), (2, 'Porto');
INSERT INTO person VALUES (1, 'Ana', 1), (2, 'Bruno', 2), (3, 'Carla', 1);
SQL
echo "$PWD/$db: 2 cities, 3 people (it stays there after the demo, to explore with sqlite3)"

say "2. track both tables: from now on triggers log every committed change; existing rows are not logged"
run dbsync --db "$db" track city person
run dbsync --db "$db" pending

say "3. sqlite3 shell: insert a city and a person living there -> two inserts, the parent first"
sql "INSERT INTO city VALUES (3, 'Faro'); INSERT INTO person VALUES (4, 'Diogo', 3);"

say "4. sqlite3 shell: rename the new city -> still one insert (insert + update collapse to insert)"
sql "UPDATE city SET name = 'Faro (Algarve)' WHERE id = 3;"

say "5. python3: move Ana to Porto -> one update of person 1"
py --commit "UPDATE person SET city_id = 2 WHERE id = 1"

say "6. python3: an update that changes nothing -> not logged"
py --commit "UPDATE city SET name = 'Porto' WHERE id = 2"

say "7. python3: insert a city and rename another, then roll back -> not logged"
py --rollback "INSERT INTO city VALUES (4, 'Braga')" "UPDATE city SET name = 'Lisboa' WHERE id = 1"

say "8. python3: change Carla's primary key from 3 to 30 -> a delete of 3 and an insert of 30"
py --commit "UPDATE person SET id = 30 WHERE id = 3"

say "9. sqlite3 shell: delete Bruno -> one delete of person 2"
sql "DELETE FROM person WHERE id = 2;"

say "10. sqlite3 shell: insert, rename, then delete a city -> nothing (insert ... delete cancels out)"
sql "INSERT INTO city VALUES (5, 'Coimbra'); UPDATE city SET name = 'Coimbra!' WHERE id = 5; DELETE FROM city WHERE id = 5;"

say "11. the pending operations a push would send (compressed: at most one per row, in push order)"
run dbsync --db "$db" pending

say "12. the same, for scripts"
printf '$ %s\n' "dbsync --db $db --json pending"
dbsync --db "$db" --json pending | tee pending.json

say "13. compact rewrites the log itself in that compressed form; pending is unchanged"
run dbsync --db "$db" compact
dbsync --db "$db" --json pending >pending-after-compact.json

# The check. The expected set follows from SPEC section 3; the order is
# checked only where the spec fixes it (a parent's insert before its
# child's), so a different but valid ordering does not fail the demo.
say "checking the result"
python3 - pending.json pending-after-compact.json <<'PY'
import json, sys

expected = {
    ("city", 3, "i"),     # step 3 (+ step 4's update folded in)
    ("person", 4, "i"),   # step 3
    ("person", 1, "u"),   # step 5
    ("person", 3, "d"),   # step 8, old key
    ("person", 30, "i"),  # step 8, new key
    ("person", 2, "d"),   # step 9
}
problems = []
for path in sys.argv[1:]:
    with open(path) as f:
        doc = json.load(f)
    ops = [(o["table"], o["pk"], o["op"]) for o in doc["operations"]]
    if doc["count"] != len(ops):
        problems.append(f"{path}: count {doc['count']} but {len(ops)} operations")
    if len(ops) != len(set(ops)) or set(ops) != expected:
        problems.append(f"{path}: got {sorted(ops)}")
        problems.append(f"{path}: expected {sorted(expected)}")
        continue
    if ops.index(("city", 3, "i")) > ops.index(("person", 4, "i")):
        problems.append(f"{path}: person 4 is inserted before its city 3")
if problems:
    print("\n".join(problems), file=sys.stderr)
    print(f"demo: FAILED — the pending operations are not the expected {len(expected)}")
    sys.exit(1)
print(f"demo: OK — {len(expected)} pending operations, as expected")
PY
