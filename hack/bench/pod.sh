#!/usr/bin/env bash
# Pods: tsrun vs podman, interleaved in the same run.
#  1. lifecycle: pod create -p + two members started (a busybox httpd and a sleeper);
#     the previous run's pod is removed in hyperfine's --prepare step, outside the timing.
#  2. throughput: one large file served by busybox httpd in a pod, fetched with curl
#     from the host through the pod's published port on 127.0.0.1.
# Podman keeps its state under the bench work dir (--root/--runroot) and runs runc
# with cgroupfs (this host's hybrid cgroups; see docs/host-facts.md).
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-15}
FILE_MB=${FILE_MB:-256}
start_registry
push_image busybox
IMG=$REGISTRY/busybox
TS_BIN=$REPO/bin/tsrun # the launcher (bin/tsrun is not a Node script)
TS="$TS_BIN --root $WORK/tsrun-root --runroot $WORK/tsrun-run"
$TS pull -q "$IMG" >/dev/null
cleanup_fns+=("$TS pod rm -f bench-pod bench-tp >/dev/null 2>&1")

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

have_podman=false
if command -v podman >/dev/null; then
  # The infra container takes no --ulimit: give podman defaults within this host's hard limits.
  # Podman's default network is 10.88.0.0/16 on podman0, the very subnet of tsrun0: two bridges
  # routing one subnet break both, so podman gets its own subnet and keeps its network configs here.
  cat >"$WORK/containers.conf" <<EOF2
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
default_subnet = "10.199.0.0/24"
network_config_dir = "$WORK/podman-networks"
EOF2
  export CONTAINERS_CONF=$WORK/containers.conf
  P="podman --root $WORK/podman-root --runroot $WORK/podman-run --runtime runc --cgroup-manager cgroupfs --events-backend file"
  ULIMITS="--ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
  $P pull -q --tls-verify=false "$IMG" >/dev/null
  cleanup_fns+=("$P pod rm -f -t 0 bench-pod bench-tp >/dev/null 2>&1; $P system reset -f >/dev/null 2>&1")
  have_podman=true
fi

# ---------------------------------------------------------------- 1. lifecycle
TS_PORT=$(free_port)
cat >"$WORK/ts-pod.sh" <<EOF
set -e
$TS pod create --name bench-pod -p 127.0.0.1:$TS_PORT:8080 >/dev/null
$TS run -d --pod bench-pod $IMG httpd -f -p 8080 >/dev/null
$TS run -d --pod bench-pod $IMG sleep 600 >/dev/null
EOF
cmds=("bash $WORK/ts-pod.sh")
prepares=("$TS pod rm -f bench-pod")
if $have_podman; then
  P_PORT=$(free_port)
  cat >"$WORK/podman-pod.sh" <<EOF
set -e
$P pod create --name bench-pod -p 127.0.0.1:$P_PORT:8080 >/dev/null
$P run -d $ULIMITS --pod bench-pod $IMG httpd -f -p 8080 >/dev/null
$P run -d $ULIMITS --pod bench-pod $IMG sleep 600 >/dev/null
EOF
  # Warm podman's pause image (built locally from catatonit on first use) outside the timing.
  bash "$WORK/podman-pod.sh" && $P pod rm -f -t 0 bench-pod >/dev/null
  cmds+=("bash $WORK/podman-pod.sh")
  prepares+=("$P pod rm -f -t 0 bench-pod")
fi
args=()
for i in "${!cmds[@]}"; do args+=(--prepare "${prepares[$i]} >/dev/null 2>&1 || true" "${cmds[$i]}"); done
hyperfine --warmup 2 --runs "$RUNS" --export-json "$WORK/pod.json" "${args[@]}" >/dev/null
echo "pod create -p + two members started, ratios to tsrun (mean of $RUNS runs):"
ratios "$WORK/pod.json" "${cmds[0]}"

# A member of the tsrun pod answers on the published port (the benchmark measured working pods).
code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TS_PORT/" || true)
[ "$code" != 000 ] || echo "WARNING: the last tsrun pod did not answer on its published port" >&2
$TS pod rm -f bench-pod >/dev/null
$have_podman && $P pod rm -f -t 0 bench-pod >/dev/null

# ---------------------------------------------------------------- 2. throughput
SERVE="mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=$FILE_MB 2>/dev/null && touch /www/ready && exec httpd -f -p 8080 -h /www"
TS_TP=$(free_port)
$TS pod create --name bench-tp -p "127.0.0.1:$TS_TP:8080" >/dev/null
$TS run -d --pod bench-tp "$IMG" sh -c "$SERVE" >/dev/null
tp_cmds=("curl -sf -m 60 -o /dev/null http://127.0.0.1:$TS_TP/big")
if $have_podman; then
  P_TP=$(free_port)
  $P pod create --name bench-tp -p "127.0.0.1:$P_TP:8080" >/dev/null
  $P run -d $ULIMITS --pod bench-tp "$IMG" sh -c "$SERVE" >/dev/null
  tp_cmds+=("curl -sf -m 60 -o /dev/null http://127.0.0.1:$P_TP/big")
fi
for url in "${tp_cmds[@]}"; do
  u=${url##* }
  for _ in $(seq 100); do curl -sf -m 2 -o /dev/null "${u%/big}/ready" && break; sleep 0.1; done
  curl -sf -m 2 -o /dev/null "${u%/big}/ready" || { echo "no answer from ${u%/big}: the published port does not work" >&2; exit 1; }
done
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$WORK/tp.json" "${tp_cmds[@]}" >/dev/null
echo
echo "throughput of a ${FILE_MB} MB file through the pod's published port on 127.0.0.1 (curl from the host):"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
  const names = ["tsrun", "podman"]; const mb = Number(process.argv[2]);
  r.forEach((x, i) => console.log(`${names[i].padEnd(7)} ${(mb / x.mean).toFixed(0).padStart(6)} MB/s  (${(x.mean * 1000).toFixed(0)} ms ± ${(x.stddev * 1000).toFixed(0)})  ratio ${(x.mean / r[0].mean).toFixed(2)}x of tsrun time`));
' "$WORK/tp.json" "$FILE_MB"
