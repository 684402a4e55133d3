#!/usr/bin/env bash
# Benchmark observed capture (issue 16) side by side with psql, in one run, on the generated
# database of benches/gen_snapshot_db.sql (2M orders at the default scale) in a throwaway cluster.
#
#   benches/capture.sh [--scale N] [--runs N]
#
#   --scale N   multiplies the rows (default 2: 2M orders; 0.2 for a quick run)
#   --runs N    timed runs per command (default 3, after one warm-up run)
#
# The migration under test overwrites 5/16 of the orders (625k rows at scale 2):
#   UPDATE orders SET status = 'archived', total = 0 WHERE id % 16 < 5;
# Each timed run starts from a fresh copy of the database (createdb -T, untimed).
#
#   apply       `migsafe apply` of the migration: capture trigger installed on first use,
#               every changed row's images recorded and streamed into the snapshot, the
#               tripwire after the statement
#   reference   the same UPDATE with `psql -1 -c`
#   rollback    `migsafe rollback` of it (down: SELECT 1): every overwritten value put back
#   floor       psql: COPY the 625k keys and old values into a temporary table and one
#               UPDATE … FROM it, in one transaction (the per-row floor of any in-place restore)
#
# Budgets (issue 16): apply <= 1.3 x reference; rollback <= 1.2 x floor.
#
# Environment knobs: BENCH_SKIP_BUILD=1, MIGSAFE_BIN=path, BENCH_OUT=file (default
# target/bench/capture.json). The cluster trusts local connections: no password anywhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

SCALE=2
RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --scale) SCALE=${2:?--scale needs a number}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $SCALE =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "error: --scale must be a number" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "error: --runs must be a positive integer" >&2; exit 2; }
die() { echo "error: $*" >&2; exit 2; }

BIN=
if command -v initdb >/dev/null; then
    BIN=$(dirname "$(readlink -f "$(command -v initdb)")")
elif command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    BIN=$(pg_config --bindir)
else
    BIN=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
for t in initdb pg_ctl psql createdb dropdb; do
    [ -x "$BIN/$t" ] || die "$t not found (looked in ${BIN:-PATH}): install the PostgreSQL server package"
done
for t in hyperfine python3; do
    command -v "$t" >/dev/null || die "$t is required (apt install $t)"
done
export PATH="$BIN:$PATH"

OUT=${BENCH_OUT:-$ROOT/target/bench/capture.json}
mkdir -p "$(dirname "$OUT")"
MIGSAFE=${MIGSAFE_BIN:-$ROOT/target/release/migsafe}
if [ -z "${MIGSAFE_BIN:-}" ] && [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    echo "building migsafe (release)…" >&2
    cargo build --release -q
fi
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user to run the server"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/migsafe-capture-bench.XXXXXX")
CLUSTER_CONF="shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 256MB
max_wal_size = 8GB
autovacuum = off"
. benches/cluster.sh
trap 'exit 130' INT TERM

echo "generating the database (scale $SCALE)…" >&2
createdb src
psql -X -q -v ON_ERROR_STOP=1 -v scale="$SCALE" -d src -f benches/gen_snapshot_db.sql >/dev/null
psql -X -At -d src -c "SELECT format('orders %s rows (%s overwritten), database %s', (SELECT count(*) FROM orders),
    (SELECT count(*) FROM orders WHERE id % 16 < 5), pg_size_pretty(pg_database_size('src')))" >&2

UP="UPDATE orders SET status = 'archived', total = 0 WHERE id % 16 < 5;"
mkdir -p "$WORK/p/migrations"
echo "$UP" > "$WORK/p/migrations/20250101000000_archive_orders.up.sql"
echo "SELECT 1;" > "$WORK/p/migrations/20250101000000_archive_orders.down.sql"
cat > "$WORK/p/migsafe.toml" <<TOML
runner = "sqlx"
migrations_dir = "migrations"
[snapshots]
store = "store"
[[targets]]
name = "bench"
url = "postgres://postgres@127.0.0.1:$PORT/run"
TOML
# The old values, for the floor's staging table.
psql -X -q -d src -c "\\copy (SELECT id, status, total FROM orders WHERE id % 16 < 5) TO '$WORK/old.copy'"

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

fresh="$(step fresh "dropdb --if-exists run" "createdb -T src run" "rm -rf $WORK/p/store")"
applied="$(step applied "$fresh" "cd $WORK/p" "$MIGSAFE apply --target bench --accept-risk bench -q >/dev/null")"
updated="$(step updated "$fresh" "psql -X -q -d run -c \"$UP\"")"

time_it reference "$fresh" "$(step reference_cmd "psql -X -q -1 -d run -c \"$UP\"")"
time_it apply "$fresh" "$(step apply_cmd "cd $WORK/p" "$MIGSAFE apply --target bench --accept-risk bench -q >/dev/null")"
time_it rollback "$applied" "$(step rollback_cmd "cd $WORK/p" "$MIGSAFE rollback --target bench --to 0 -q >/dev/null")"
cat > "$WORK/floor.sql" <<SQL
BEGIN;
CREATE TEMP TABLE st (id bigint, status text, total numeric(12,2)) ON COMMIT DROP;
\\copy st FROM '$WORK/old.copy'
ANALYZE st;
UPDATE orders o SET status = st.status, total = st.total FROM st WHERE o.id = st.id;
COMMIT;
SQL
time_it floor "$updated" "$(step floor_cmd "psql -X -q -v ON_ERROR_STOP=1 -d run -f $WORK/floor.sql")"

# The rollback must give back every value.
sh "$applied"
(cd "$WORK/p" && "$MIGSAFE" rollback --target bench --to 0 -q >/dev/null)
differs=$(psql -X -At -d run -c "SELECT count(*) FROM orders WHERE status = 'archived'")
[ "$differs" = 0 ] || echo "warning: after rollback $differs orders are still archived" >&2

python3 - "$RESULTS" "$OUT" "$SCALE" <<'PY'
import json, os, statistics, sys
results, out, scale = sys.argv[1:]
def med(name):
    p = os.path.join(results, name + ".json")
    if not os.path.exists(p):
        return None
    return statistics.median(json.load(open(p))["results"][0]["times"])
rows = []
for name, label, ref, budget in [
    ("apply", "apply (capture + tripwire)", "reference", 1.3),
    ("rollback", "rollback (restore overwritten values)", "floor", 1.2),
]:
    t, r = med(name), med(ref)
    ratio = t / r if (t is not None and r) else None
    rows.append({"name": name, "label": label, "seconds": t, "reference": ref,
                 "reference_seconds": r, "ratio": ratio, "budget": budget})
json.dump({"scale": float(scale), "results": rows}, open(out, "w"), indent=2)
for r in rows:
    t = "failed" if r["seconds"] is None else f"{r['seconds']:.2f} s"
    ref = "failed" if r["reference_seconds"] is None else f"{r['reference_seconds']:.2f} s"
    ratio = "" if r["ratio"] is None else f"  {r['ratio']:.2f}x"
    verdict = ""
    if r["ratio"] is not None:
        verdict = "  ok" if r["ratio"] <= r["budget"] else f"  OVER budget {r['budget']}x"
    print(f"{r['label']:<40} {t:>9}  vs {r['reference']} {ref:>9}{ratio}{verdict}")
print(f"results: {out}")
PY
