#!/usr/bin/env bash
# `tsrun-oci run` vs `runc run` of the same prepared bundle (busybox, `true`).
# The last line, a bare Node start (without NODE_EXTRA_CA_CERTS, as bin/tsrun-oci
# runs it), is the floor for any Node CLI. Both run attached, inherit stdio and remove the container at exit.
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-40}
OCI="$REPO/bin/tsrun-oci"
[ -f "$REPO/dist/tsrun-oci.cjs" ] || node "$REPO/hack/build.mjs"
[ -d "$REPO/images/out/busybox" ] || node "$REPO/images/build.mjs" busybox

prepare_bundle "$WORK/bundle"

# Sanity: both really run the bundle.
runc --root "$WORK/runc" run --bundle "$WORK/bundle" bench-probe-runc
"$OCI" --root "$WORK/oci" run --bundle "$WORK/bundle" bench-probe-oci

cmds=(
  "runc --root $WORK/runc run --bundle $WORK/bundle bench-runc"
  "$OCI --root $WORK/oci run --bundle $WORK/bundle bench-oci"
  "env -u NODE_EXTRA_CA_CERTS node -e 0"
)
# hyperfine alternates nothing by itself: run rounds of each command in turn so
# machine noise hits both alike, and report the ratio of the summed means.
ROUNDS=${ROUNDS:-4}
per=$((RUNS / ROUNDS))
for r in $(seq "$ROUNDS"); do
  hyperfine -N --warmup 2 --runs "$per" --export-json "$WORK/round-$r.json" "${cmds[@]}" >/dev/null
done
node -e '
  const fs = require("fs");
  const rounds = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f, "utf8")).results);
  const names = rounds[0].map((x) => x.command);
  const mean = (i) => rounds.reduce((s, r) => s + r[i].mean, 0) / rounds.length;
  const base = mean(0);
  console.log(`OCI runtime run of a prepared bundle, ratios to runc run (${rounds.length} interleaved rounds):`);
  names.forEach((n, i) => console.log(`${(mean(i) / base).toFixed(2).padStart(6)}x  ${(mean(i) * 1000).toFixed(1).padStart(8)} ms  ${n}`));
  rounds.forEach((r, k) => console.log(`  round ${k + 1}: tsrun-oci/runc = ${(r[1].mean / r[0].mean).toFixed(2)}`));
' "$WORK"/round-*.json
