#!/usr/bin/env bash
# Start-up cost of a whole container run: tsrun vs runc, crun and podman, interleaved.
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-30}
start_registry
push_image busybox
IMG=$REGISTRY/busybox

TS_ROOT=$WORK/tsrun-root TS_RUNROOT=$WORK/tsrun-run
$TSRUN --root "$TS_ROOT" --runroot "$TS_RUNROOT" pull -q "$IMG" >/dev/null

# A prepared bundle for runc/crun: the same image unpacked by umoci, running `true`.
prepare_bundle "$WORK/bundle"

cmds=(
  "runc run --bundle $WORK/bundle bench-runc"
  "$TSRUN --root $TS_ROOT --runroot $TS_RUNROOT run --rm --network none $IMG true"
)
if command -v crun >/dev/null && crun run --bundle "$WORK/bundle" bench-crun-probe >/dev/null 2>&1; then
  cmds+=("crun run --bundle $WORK/bundle bench-crun")
else
  echo "crun: skipped (it refuses containers on this host's hybrid cgroup layout)" >&2
fi
if command -v podman >/dev/null; then
  P="podman --root $WORK/podman-root --runroot $WORK/podman-run --runtime runc --cgroup-manager cgroupfs --events-backend file"
  $P pull -q --tls-verify=false "$IMG" >/dev/null
  cmds+=("$P run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 $IMG true")
  cleanup_fns+=("$P system reset -f >/dev/null 2>&1")
fi
# Reference points: a bare Node start, with and without the machine's NODE_EXTRA_CA_CERTS
# (bin/tsrun moves it aside; Node parses it at every start otherwise).
cmds+=("node -e 0" "env -u NODE_EXTRA_CA_CERTS node -e 0")
# The floor of any Node CLI that runs this container (bare-run.c): a bare Node start with the cgroup
# lock's head start, then the kernel work a `run --rm` cannot avoid (state dir, cgroups, overlay,
# namespaces, exec, removal) done by the shortest C program.
cc -O2 -o "$WORK/bare-run" "$(dirname "$0")/bare-run.c"
mkdir "$WORK/bare-state"
FLOOR="$WORK/bare-run --node $WORK/bundle/rootfs $WORK/bare-state bench-bare"
cmds+=("$FLOOR")

# A pause before every command: each starts with the kernel's cgroup migration lock cold, as a
# user's single start does (the lock stays warm for one RCU grace period after a writer, so a
# command right after another's cgroup writes would skip a 6-20 ms wait; see hack/bench/README.md).
interleave --warmup 3 --runs "$RUNS" --prepare "sleep 0.05" --export-json "$WORK/run.json" "${cmds[@]}"
echo "container start-up, ratios to runc run (mean of $RUNS interleaved runs):"
ratios "$WORK/run.json" "${cmds[0]}"
floor "$WORK/run.json" "$FLOOR" "${cmds[0]}" "$(printf '%s\n' "${cmds[@]}" | grep '^podman' || true)"
