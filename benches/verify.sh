#!/usr/bin/env bash
# Benchmark `migsafe verify` against applying the same ups once with psql, on the same
# PostgreSQL cluster, and time how long a scratch cluster takes to be ready.
#
#   benches/verify.sh
#
# Environment knobs (all optional):
#   BENCH_RUNS=5            timed runs per command
#   BENCH_MIGRATIONS=40     migrations in the generated project
#   BENCH_SKIP_BUILD=1      use the existing target/release/migsafe
#
# Budgets (DESIGN.md): scratch cluster ready in under 2 s; verify at most 4x the time of
# applying the ups once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${BENCH_RUNS:-5}
N=${BENCH_MIGRATIONS:-40}
MIGSAFE=target/release/migsafe
WORK=$(mktemp -d "${TMPDIR:-/tmp}/migsafe-verify-bench.XXXXXX")

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    cargo build --release -q
fi
command -v hyperfine >/dev/null || { echo "error: hyperfine is required" >&2; exit 2; }

python3 benches/gen_project.py "$WORK/project" --migrations "$N" >&2
mkdir -p "$WORK/empty/migrations"
touch "$WORK/empty/sqlx.toml"
printf 'SELECT 1;\n' > "$WORK/empty/migrations/1_noop.up.sql"
printf 'SELECT 1;\n' > "$WORK/empty/migrations/1_noop.down.sql"

# A cluster for the side-by-side runs, configured like migsafe's scratch cluster.
. benches/cluster.sh

# The reference: every up once, in order, each in its own transaction, on a fresh database.
cat > "$WORK/apply.sh" <<SH
#!/bin/sh
set -e
psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS bench_apply' -c 'CREATE DATABASE bench_apply'
for f in $WORK/project/migrations/*.up.sql; do
    psql -X -q -v ON_ERROR_STOP=1 -d bench_apply -1 -f "\$f"
done
SH
chmod +x "$WORK/apply.sh"

hyperfine -N -w 1 -r "$RUNS" --export-json "$WORK/apply.json" "$WORK/apply.sh" >&2
MIGSAFE_DATABASE_URL=$URL hyperfine -N -w 1 -r "$RUNS" -i --export-json "$WORK/verify.json" \
    "$MIGSAFE verify --receipts $WORK/r.json $WORK/project/migrations" >&2
# The embedded default end to end on a one-migration project: initdb, start, verify, stop,
# remove. The cluster's own start-up is printed by migsafe on a terminal; here it is the whole.
hyperfine -N -w 1 -r "$RUNS" -i --export-json "$WORK/scratch.json" \
    "$MIGSAFE verify --receipts $WORK/r2.json $WORK/empty/migrations" >&2

python3 - "$WORK" "$N" <<'PY'
import json, sys
work, n = sys.argv[1], sys.argv[2]
def med(name):
    r = json.load(open(f"{work}/{name}.json"))["results"][0]
    return r["median"] * 1000
a, v, s = med("apply"), med("verify"), med("scratch")
print(f"project: {n} migrations (benches/gen_project.py)")
print(f"apply ups once with psql            {a:8.0f} ms")
print(f"migsafe verify (same cluster)       {v:8.0f} ms   ratio {v / a:.2f}  (budget <= 4.0)")
print(f"migsafe verify, own scratch cluster {s:8.0f} ms   (initdb + start + 1 migration + stop; budget: ready < 2000 ms)")
PY
