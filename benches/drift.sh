#!/usr/bin/env bash
# Benchmark `migsafe drift --target` and `migsafe verify --target` against doing the same by
# hand with PostgreSQL's own tools, on one throwaway cluster.
#
#   benches/drift.sh
#
# The target: a generated sqlx project (benches/gen_project.py) applied by `migsafe apply` up to
# all but BENCH_PENDING migrations, then drifted by hand (an extra index).
#
#   drift, by hand:   replay the applied ups with one psql on a fresh database, pg_dump
#                     --schema-only of it and of the target, diff the two.
#   drift, migsafe:   migsafe drift --target t --database-url (the replay on the same cluster).
#   verify --target, by hand: pg_dump --schema-only -Fc of the target, pg_restore into a fresh
#                     database, the pending ups once with one psql.
#   verify --target, migsafe: migsafe verify --target t --database-url (up, down, up of each
#                     pending migration on the restored schema, with synthetic rows).
#
# Environment knobs (all optional):
#   BENCH_RUNS=5            timed runs per command
#   BENCH_MIGRATIONS=40     migrations in the generated project
#   BENCH_PENDING=5         of those, not applied on the target
#   BENCH_SKIP_BUILD=1      use the existing target/release/migsafe
#
# Budgets (ours; the issue names none): drift at most 2x the hand-made check; verify --target
# at most 4x the hand-made restore plus applying the pending ups once (verify's own budget).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${BENCH_RUNS:-5}
N=${BENCH_MIGRATIONS:-40}
PENDING=${BENCH_PENDING:-5}
APPLIED=$((N - PENDING))
MIGSAFE=$PWD/target/release/migsafe
WORK=$(mktemp -d "${TMPDIR:-/tmp}/migsafe-drift-bench.XXXXXX")
. benches/cluster.sh

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    cargo build --release -q
fi
command -v hyperfine >/dev/null || { echo "error: hyperfine is required" >&2; exit 2; }

P=$WORK/project
python3 benches/gen_project.py "$P" --migrations "$N" >&2
rm -f "$P/sqlx.toml"
psql -X -q -d postgres -c 'CREATE DATABASE bench_target'
cat > "$P/migsafe.toml" <<TOML
runner = "sqlx"
migrations_dir = "migrations"
[snapshots]
store = "store"
[[targets]]
name = "t"
url = "postgres://postgres@127.0.0.1:$PORT/bench_target"
TOML
TO=$(printf '%04d' "$APPLIED")
(cd "$P" && "$MIGSAFE" apply --target t --to "$TO" --accept-risk "benchmark set-up" -q >/dev/null)
psql -X -q -d bench_target -c 'CREATE INDEX bench_hand_made_idx ON t1 (name)'

cat > "$WORK/drift-by-hand.sh" <<SH
#!/bin/sh
set -e
psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS bench_replay' -c 'CREATE DATABASE bench_replay'
# One psql session for all files: no process start per migration.
psql -X -q -v ON_ERROR_STOP=1 -d bench_replay \$(ls $P/migrations/*.up.sql | head -n $APPLIED | sed 's/^/-f /')
pg_dump --schema-only -d bench_target > $WORK/target.sql
pg_dump --schema-only -d bench_replay > $WORK/replay.sql
diff $WORK/target.sql $WORK/replay.sql > /dev/null || true
SH
cat > "$WORK/verify-by-hand.sh" <<SH
#!/bin/sh
set -e
psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS bench_restored' -c 'CREATE DATABASE bench_restored'
pg_dump --schema-only -Fc -d bench_target -f $WORK/target.dump
pg_restore -d bench_restored $WORK/target.dump
psql -X -q -v ON_ERROR_STOP=1 -d bench_restored \$(ls $P/migrations/*.up.sql | tail -n $PENDING | sed 's/^/-f /')
SH
chmod +x "$WORK"/*-by-hand.sh

cd "$P"
hyperfine -N -w 1 -r "$RUNS" --export-json "$WORK/drift-by-hand.json" "$WORK/drift-by-hand.sh" >&2
hyperfine -N -w 1 -r "$RUNS" -i --export-json "$WORK/drift.json" \
    "$MIGSAFE drift --target t --database-url $URL" >&2
hyperfine -N -w 1 -r "$RUNS" --export-json "$WORK/verify-by-hand.json" "$WORK/verify-by-hand.sh" >&2
hyperfine -N -w 1 -r "$RUNS" --export-json "$WORK/verify.json" \
    "$MIGSAFE verify --target t --database-url $URL --receipts $WORK/r.json" >&2
# The drift must have been found, and the target must still be as it was.
if "$MIGSAFE" drift --target t --database-url "$URL" > "$WORK/drift.out"; then
    echo "error: migsafe drift found no drift" >&2; exit 1
fi
grep -q 'bench_hand_made_idx' "$WORK/drift.out"

python3 - "$WORK" "$N" "$PENDING" <<'PY'
import json, sys
work, n, pending = sys.argv[1], sys.argv[2], sys.argv[3]
def med(name):
    r = json.load(open(f"{work}/{name}.json"))["results"][0]
    return r["median"] * 1000
dh, d, vh, v = med("drift-by-hand"), med("drift"), med("verify-by-hand"), med("verify")
print(f"project: {n} migrations, {pending} pending on the target (benches/gen_project.py)")
print(f"drift by hand (psql replay + 2 pg_dump + diff)  {dh:8.0f} ms")
print(f"migsafe drift --target (same cluster)           {d:8.0f} ms   ratio {d / dh:.2f}  (budget <= 2.0)")
print(f"verify by hand (pg_dump | pg_restore + ups)     {vh:8.0f} ms")
print(f"migsafe verify --target (same cluster)          {v:8.0f} ms   ratio {v / vh:.2f}  (budget <= 4.0)")
PY
