#!/usr/bin/env bash
# tools/demo.sh - what `./dev demo` runs: two clients and a server in sync.
#
#   bash tools/demo.sh [PATH/TO/dbsync] [DEMO_DIR] [PATH/TO/dbsyncd]
#
# In a fresh DEMO_DIR it starts a real dbsyncd on a free loopback port,
# creates two client databases with the sqlite3 shell, tracks and registers
# them with the dbsync CLI, and tells a short story step by step: offline
# edits on both clients, syncs (the second client's push is refused with
# "pull required" until sync pulls first), a write made directly in the
# server's database reaching both clients. It then checks that both clients
# and the server hold exactly the same rows, and the rows expected, and exits
# non-zero otherwise, so `./dev test` runs it to keep it true. dbsyncd is
# looked for next to dbsync unless given. The server is always stopped.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cli=$(readlink -f "${1:-$root/build/tools/dbsync}")
dir=${2:-$root/build/demo}
server_exe=$(readlink -f "${3:-$(dirname "$cli")/dbsyncd}")
[ -x "$cli" ] || { echo "demo: $cli not found; run ./dev build" >&2; exit 1; }
[ -x "$server_exe" ] || { echo "demo: $server_exe not found; run ./dev build" >&2; exit 1; }

# A fresh directory every time, so a run never depends on the last one.
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
a=client-a.db
b=client-b.db

# The server runs in the background for the whole demo and is stopped on
# every exit: success, failure, or Ctrl-C.
server_pid=
stop_server() {
	local rc=$?
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [ "$rc" -ne 0 ] && [ -s server.log ]; then
		echo "demo: the server's last log lines ($PWD/server.log):" >&2
		tail -n 5 server.log >&2
	fi
	exit "$rc"
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Shown as `dbsync ...` in the transcript; runs the freshly built CLI.
dbsync() { "$cli" "$@"; }
say() { printf '\n-- %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# run_expect CODE WHY CMD...: a command that must fail with exit CODE; its
# error line is shown in the transcript, in order.
run_expect() {
	local want=$1 why=$2 got=0
	shift 2
	printf '$ %s\n' "$*"
	"$@" 2>&1 || got=$?
	if [ "$got" -ne "$want" ]; then
		echo "demo: FAILED — expected exit $want ($why), got $got" >&2
		exit 1
	fi
	echo "(exit $got: $why)"
}
# The sqlite3 shell on one database, stopping at the first error. Foreign
# keys are enforced per connection in SQLite, so every writer turns them on.
sql() {
	local db=$1
	printf 'sqlite3 %s> %s\n' "$db" "$2"
	sqlite3 -bail -cmd '.timeout 10000' -cmd 'PRAGMA foreign_keys=ON' "$db" "$2"
}

say "1. start dbsyncd on a free loopback port, with the tables city and person (a foreign key to city)"
cat >schema.sql <<'SQL'
CREATE TABLE IF NOT EXISTS city (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS person (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                   city_id INTEGER REFERENCES city(id));
SQL
printf '$ dbsyncd --store sqlite:server.db --listen 127.0.0.1:0 --port-file server.port \\\n'
printf '          --schema schema.sql --track city,person --registration open 2>server.log &\n'
"$server_exe" --store sqlite:server.db --listen 127.0.0.1:0 --port-file server.port \
	--schema schema.sql --track city,person --registration open 2>server.log &
server_pid=$!
for _ in $(seq 100); do
	[ -s server.port ] && break
	kill -0 "$server_pid" 2>/dev/null || { echo "demo: dbsyncd did not start" >&2; exit 1; }
	sleep 0.1
done
[ -s server.port ] || { echo "demo: dbsyncd wrote no port file within 10 s" >&2; exit 1; }
url="http://127.0.0.1:$(cat server.port)"
head -n 1 server.log

say "2. two client databases with the same schema, made with the sqlite3 shell"
sqlite3 -bail "$a" <schema.sql
sqlite3 -bail "$b" <schema.sql
echo "$PWD/$a and $PWD/$b: empty city and person tables"

say "3. track both tables and register each database with the server (--server, or DBSYNC_SERVER)"
run dbsync --db "$a" track city person
run dbsync --db "$a" --server "$url" register
printf '$ export DBSYNC_SERVER=%s\n' "$url"
export DBSYNC_SERVER=$url
run dbsync --db "$b" track city person
run dbsync --db "$b" register
run dbsync --db "$b" status

say "4. offline: each client inserts its own rows (no server involved; triggers log them)"
sql "$a" "INSERT INTO city VALUES (1, 'Lisbon'), (2, 'Porto'); INSERT INTO person VALUES (1, 'Ana', 1), (2, 'Bruno', 2);"
sql "$b" "INSERT INTO city VALUES (3, 'Faro'); INSERT INTO person VALUES (3, 'Carla', 3), (4, 'Diogo', 3);"
run dbsync --db "$b" pending

say "5. client A syncs first: its push is accepted"
run dbsync --db "$a" sync

say "6. client B pushes: refused, the server has A's version that B has not merged"
run_expect 8 "pull required" dbsync --db "$b" push

say "7. client B syncs: sync pulls A's rows first, then pushes its own"
run dbsync --db "$b" sync

say "8. client A syncs again and gets B's rows (nothing of its own to push)"
run dbsync --db "$a" sync

say "9. offline again: A moves Carla (B's row) to Lisbon and adds Eva; B deletes Bruno (A's row) and adds Braga and Filipa; and both rename Faro — a conflict"
sql "$a" "UPDATE person SET city_id = 1 WHERE id = 3; INSERT INTO person VALUES (5, 'Eva', 2); UPDATE city SET name = 'Faro (renamed on A)' WHERE id = 3;"
sql "$b" "DELETE FROM person WHERE id = 2; INSERT INTO city VALUES (4, 'Braga'); INSERT INTO person VALUES (6, 'Filipa', 4); UPDATE city SET name = 'Faro (renamed on B)' WHERE id = 3;"
run dbsync --db "$a" pending

say "10. both sync; B's sync handles the pull required again and meets A's rename of Faro: the default policy, local wins, keeps B's name, which B's push then gives everyone (docs/conflicts.md); A's last sync picks up B's changes"
run dbsync --db "$a" sync
run dbsync --db "$b" sync
run dbsync --db "$a" sync

say "11. a program writes directly into the server's database (the server logs it like a client's push)"
sql server.db "INSERT INTO city VALUES (5, 'Coimbra'); UPDATE person SET name = 'Ana Silva' WHERE id = 1;"

say "12. both clients pull it"
run dbsync --db "$a" pull
run dbsync --db "$b" pull

say "13. nothing is left to push"
run dbsync --db "$a" pending
run dbsync --db "$b" pending
run dbsync --db "$a" status

say "14. the rows, on the server"
sqlite3 -header -column server.db "SELECT p.id, p.name, c.name AS city FROM person p LEFT JOIN city c ON c.id = p.city_id ORDER BY p.id"

# The check: the three databases hold the same rows, and the rows the story
# above should give (so three databases equal but wrong also fail).
say "checking: both clients and the server hold the same rows"
dump() {
	sqlite3 -bail "$1" "SELECT 'city', id, name FROM city ORDER BY id;" \
		"SELECT 'person', id, name, city_id FROM person ORDER BY id;"
}
expected=$(cat <<'ROWS'
city|1|Lisbon
city|2|Porto
city|3|Faro (renamed on B)
city|4|Braga
city|5|Coimbra
person|1|Ana Silva|1
person|3|Carla|1
person|4|Diogo|3
person|5|Eva|2
person|6|Filipa|4
ROWS
)
problems=0
server_rows=$(dump server.db)
for db in "$a" "$b"; do
	if [ "$(dump "$db")" != "$server_rows" ]; then
		echo "demo: $db differs from the server:" >&2
		diff <(echo "$server_rows") <(dump "$db") >&2 || true
		problems=$((problems + 1))
	fi
	if [ "$(dbsync --db "$db" --json pending)" != '{"count": 0, "operations": []}' ]; then
		echo "demo: $db still has pending operations" >&2
		problems=$((problems + 1))
	fi
done
if [ "$server_rows" != "$expected" ]; then
	echo "demo: the server does not hold the expected rows:" >&2
	diff <(echo "$expected") <(echo "$server_rows") >&2 || true
	problems=$((problems + 1))
fi
cities=$(sqlite3 server.db "SELECT count(*) FROM city")
people=$(sqlite3 server.db "SELECT count(*) FROM person")
if [ "$problems" -ne 0 ]; then
	echo "demo: FAILED — $problems problem(s); the databases are in $PWD"
	exit 1
fi
echo "demo: OK — both clients and the server are equal ($cities cities, $people people)"
