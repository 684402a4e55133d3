#!/usr/bin/env bash
# Benchmark `migsafe rollback` of a dropped 1M-row column against a full pg_restore of the same
# database, side by side in one run, on the generated database of benches/gen_snapshot_db.sql
# in a throwaway cluster. Also times `migsafe apply` of the drop (capture + soft drop).
#
#   benches/apply.sh [--scale N] [--runs N] [--jobs N]
#
#   --scale N   multiplies the rows (default 1: 1M orders, 100k customers; 0.1 for a quick run)
#   --runs N    timed runs per command (default 3, after one warm-up run)
#   --jobs N    -j for pg_dump -Fd and pg_restore (default 2)
#
# The migration under test is `ALTER TABLE orders DROP COLUMN note` (down: ADD COLUMN note
# text), applied by `migsafe apply` before each timed rollback. Two configurations:
#   soft drop (the default): the column is renamed aside; rollback puts it back
#   hard drop ([apply] soft_drop = false): rollback re-adds it and restores the snapshot
#
# Budget (issue 7): rollback (down + restore) <= 0.5 x createdb + pg_restore -j N.
#
# Environment knobs: BENCH_SKIP_BUILD=1, MIGSAFE_BIN=path, BENCH_OUT=file (default
# target/bench/apply.json). The cluster trusts local connections: no password anywhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

SCALE=1
RUNS=3
JOBS=2
while [ $# -gt 0 ]; do
    case "$1" in
        --scale) SCALE=${2:?--scale needs a number}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
        -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $SCALE =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "error: --scale must be a number" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ && $JOBS =~ ^[1-9][0-9]*$ ]] || {
    echo "error: --runs and --jobs must be positive integers" >&2; exit 2; }
die() { echo "error: $*" >&2; exit 2; }

BIN=
if command -v initdb >/dev/null; then
    BIN=$(dirname "$(readlink -f "$(command -v initdb)")")
elif command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    BIN=$(pg_config --bindir)
else
    BIN=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
for t in initdb pg_ctl pg_dump pg_restore psql createdb dropdb; do
    [ -x "$BIN/$t" ] || die "$t not found (looked in ${BIN:-PATH}): install the PostgreSQL server package"
done
for t in hyperfine python3; do
    command -v "$t" >/dev/null || die "$t is required (apt install $t)"
done
export PATH="$BIN:$PATH"

OUT=${BENCH_OUT:-$ROOT/target/bench/apply.json}
mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/migsafe-apply-bench.XXXXXX")
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user to run the server"
    AS=(runuser -u postgres --)
fi
cleanup() {
    "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

MIGSAFE=${MIGSAFE_BIN:-$ROOT/target/release/migsafe}
if [ -z "${MIGSAFE_BIN:-}" ] && [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    echo "building migsafe (release)…" >&2
    cargo build --release -q
fi
"$MIGSAFE" rollback --help >/dev/null 2>&1 || die "$MIGSAFE has no rollback command"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; fi
"${AS[@]}" "$BIN/initdb" -D "$WORK/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$WORK'
fsync = off
full_page_writes = off
synchronous_commit = off
shared_buffers = 512MB
maintenance_work_mem = 256MB
max_wal_size = 8GB
autovacuum = off
CONF
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres

echo "generating the database (scale $SCALE)…" >&2
createdb src
psql -X -q -v ON_ERROR_STOP=1 -v scale="$SCALE" -d src -f benches/gen_snapshot_db.sql >/dev/null
psql -X -At -d src -c "SELECT format('orders %s rows, database %s', (SELECT count(*) FROM orders),
    pg_size_pretty(pg_database_size('src')))" >&2
createdb -T src hard

# Two projects: the same migration, soft drop on and off, each on its own copy of the data.
project() { # DIR DB SOFT_DROP
    mkdir -p "$1/migrations"
    echo "ALTER TABLE orders DROP COLUMN note;" > "$1/migrations/20250101000000_drop_orders_note.up.sql"
    echo "ALTER TABLE orders ADD COLUMN note text;" > "$1/migrations/20250101000000_drop_orders_note.down.sql"
    cat > "$1/migsafe.toml" <<TOML
runner = "sqlx"
migrations_dir = "migrations"
[apply]
soft_drop = $3
[snapshots]
store = "store"
[[targets]]
name = "bench"
url = "postgres://postgres@127.0.0.1:$PORT/$2"
TOML
}
project "$WORK/soft" src true
project "$WORK/hard" hard false

step() {
    local name=$1; shift
    { echo '#!/bin/sh'; echo 'set -e'; printf '%s\n' "$@"; } > "$WORK/$name.sh"
    chmod +x "$WORK/$name.sh"
    echo "$WORK/$name.sh"
}
RESULTS=$WORK/results
mkdir -p "$RESULTS"
time_it() {
    local name=$1 prepare=$2; shift 2
    echo "── $name: $*" >&2
    if ! hyperfine -N -w 1 -r "$RUNS" --prepare "$prepare" --export-json "$RESULTS/$name.json" \
        --style basic "$@" >"$WORK/$name.log" 2>&1; then
        echo "   failed; output:" >&2
        tail -n 20 "$WORK/$name.log" | sed 's/^/   /' >&2
        rm -f "$RESULTS/$name.json"
    else
        grep -E 'Time \(mean' "$WORK/$name.log" | sed 's/^ */   /' >&2 || true
    fi
}

# Reference: a full restore of the database into a new one.
pg_dump -Fd -j "$JOBS" -f "$WORK/ref.dir" src
time_it ref_restore "$(step drop_r "dropdb --if-exists ref_restore")" \
    "$(step ref_restore_cmd "createdb ref_restore" "pg_restore -j $JOBS -d ref_restore $WORK/ref.dir")"

# migsafe: apply before each rollback; the rollback is what is timed.
for mode in soft hard; do
    apply="$(step "apply_$mode" "cd $WORK/$mode" "$MIGSAFE apply --target bench --accept-risk bench -q >/dev/null")"
    rollback="$(step "rollback_$mode" "cd $WORK/$mode" "$MIGSAFE rollback --target bench --to 0 -q >/dev/null")"
    time_it "rollback_$mode" "$apply" "$rollback"
    # apply is timed after a rollback (the state it starts from).
    time_it "apply_$mode" "$rollback" "$apply"
    # Every note must be back.
    db=$([ "$mode" = soft ] && echo src || echo hard)
    (cd "$WORK/$mode" && "$MIGSAFE" rollback --target bench --to 0 -q >/dev/null 2>&1) || true
    missing=$(psql -X -At -d "$db" -c "SELECT count(*) FROM orders WHERE note IS NULL")
    [ "$missing" = 0 ] || echo "warning: $mode: after rollback $missing notes are NULL" >&2
done

python3 - "$RESULTS" "$OUT" "$SCALE" "$JOBS" <<'PY'
import json, os, statistics, sys
results, out, scale, jobs = sys.argv[1:]
def med(name):
    p = os.path.join(results, name + ".json")
    if not os.path.exists(p):
        return None
    return statistics.median(json.load(open(p))["results"][0]["times"])
ref = med("ref_restore")
rows = []
for name, label, budget in [
    ("rollback_soft", "rollback, soft drop (default)", 0.5),
    ("rollback_hard", "rollback, hard drop (soft_drop = false)", 0.5),
    ("apply_soft", "apply: capture + soft drop", None),
    ("apply_hard", "apply: capture + DROP COLUMN", None),
]:
    t = med(name)
    ratio = t / ref if (t is not None and ref) else None
    rows.append({"name": name, "label": label, "seconds": t, "ratio": ratio, "budget": budget})
data = {"scale": float(scale), "jobs": int(jobs), "reference_restore_s": ref, "results": rows}
json.dump(data, open(out, "w"), indent=2)
print(f"reference: createdb + pg_restore -j {jobs}: {ref:.2f} s" if ref else "reference failed")
for r in rows:
    t = "failed" if r["seconds"] is None else f"{r['seconds']:.2f} s"
    ratio = "" if r["ratio"] is None else f"  {r['ratio']:.2f}x"
    verdict = ""
    if r["budget"] is not None and r["ratio"] is not None:
        verdict = "  ok" if r["ratio"] <= r["budget"] else f"  OVER budget {r['budget']}x"
    print(f"{r['label']:<42} {t:>9}{ratio}{verdict}")
print(f"results: {out}")
PY
