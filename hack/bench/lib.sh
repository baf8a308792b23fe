# Shared by the benchmarks: a throwaway registry on 127.0.0.1 and ratio reports.
# shellcheck shell=bash
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TSRUN="$REPO/bin/tsrun"
WORK=$(mktemp -d /tmp/tsrun-bench.XXXXXX)
cleanup_fns=()
cleanup() { for f in "${cleanup_fns[@]}"; do eval "$f" || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
# Killed (Ctrl-C, or `| head` closing the pipe): clean up too, or a bench container keeps running.
trap 'exit 130' INT TERM HUP PIPE

# start_registry: sets REGISTRY=127.0.0.1:PORT
start_registry() {
  local port
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  cat >"$WORK/registry.yml" <<EOF2
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $WORK/registry-data }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$port }
EOF2
  docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
  local pid=$!
  cleanup_fns+=("kill $pid")
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
  REGISTRY=127.0.0.1:$port
}

# push_image NAME: pushes images/out/NAME (built if missing) as $REGISTRY/NAME:latest
push_image() {
  [ -d "$REPO/images/out/$1" ] || node "$REPO/images/build.mjs" "$1"
  skopeo copy -q --dest-tls-verify=false "oci:$REPO/images/out/$1:latest" "docker://$REGISTRY/$1:latest"
}

# prepare_bundle DIR: the busybox image unpacked by umoci as an OCI bundle running `true`,
# rootful, without a network namespace of its own and within this host's rlimits.
prepare_bundle() {
  [ -d "$REPO/images/out/busybox" ] || node "$REPO/images/build.mjs" busybox
  umoci unpack --image "$REPO/images/out/busybox:latest" "$1" >/dev/null
  node -e '
    const f = process.argv[1]; const c = JSON.parse(require("fs").readFileSync(f));
    c.process.terminal = false; c.process.args = ["true"];
    c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== "user" && n.type !== "network");
    delete c.linux.uidMappings; delete c.linux.gidMappings;
    c.process.rlimits = (c.process.rlimits || []).filter((r) => r.type !== "RLIMIT_NOFILE");
    require("fs").writeFileSync(f, JSON.stringify(c));
  ' "$1/config.json"
}

# interleave ARGS...: hyperfine -N's options (--runs, --warmup, --prepare, --export-json), but
# the commands take turns within every round (see interleave.mjs).
interleave() { node "$REPO/hack/bench/interleave.mjs" "$@"; }

# ratios FILE BASELINE_NAME: prints each command's mean as a ratio of the baseline's
ratios() {
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
    const base = r.find((x) => x.command === process.argv[2]);
    for (const x of r) console.log(`${(x.mean / base.mean).toFixed(2).padStart(6)}x  ${(x.mean * 1000).toFixed(1).padStart(8)} ms ± ${(x.stddev * 1000).toFixed(1)}  ${x.command}`);
  ' "$1" "$2"
}

# floor FILE FLOOR_CMD RUNC_CMD [PODMAN_CMD]: the floor command's mean as ratios to runc (and
# podman): what a target leaves above it is all a Node runtime's own work may cost.
floor() {
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
    const mean = (c) => r.find((x) => x.command === c)?.mean;
    const floor = mean(process.argv[2]);
    let line = `floor (bare-run --node): ${(floor * 1000).toFixed(1)} ms = ${(floor / mean(process.argv[3])).toFixed(2)}x runc`;
    if (process.argv[4]) line += `, ${(floor / mean(process.argv[4])).toFixed(2)}x podman`;
    console.log(line);
  ' "$@"
}
