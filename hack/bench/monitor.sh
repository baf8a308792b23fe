#!/usr/bin/env bash
# What a container costs while it lives: the monitor's memory (tsrun's C helper vs
# Podman's conmon) and the disk a created container takes (its dirs, not the image).
source "$(dirname "$0")/lib.sh"
start_registry
push_image busybox
IMG=$REGISTRY/busybox
T="$TSRUN --root $WORK/tsrun-root --runroot $WORK/tsrun-run"
$T pull -q "$IMG" >/dev/null

# kB of RSS and PSS of a process, from smaps_rollup.
mem() { awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {printf "RSS %5d kB  PSS %5d kB", r, p}' "/proc/$1/smaps_rollup"; }

id=$($T run -d --network none "$IMG" sleep 600)
monitor=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).monitorPid)' "$WORK/tsrun-run/runtime/$id/state.json")
echo "monitor of a sleeping container:"
echo "  tsrun-helper  $(mem "$monitor")"
$T rm -f "$id" >/dev/null

P="podman --root $WORK/podman-root --runroot $WORK/podman-run --runtime runc --cgroup-manager cgroupfs --events-backend file"
if command -v podman >/dev/null; then
  cleanup_fns+=("$P rm -af -t 0 >/dev/null 2>&1")
  $P pull -q --tls-verify=false "$IMG" >/dev/null
  pid=$($P run -d --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 "$IMG" sleep 600)
  conmon=$(pgrep -f "conmon.*$pid" | head -1)
  echo "  conmon        $(mem "$conmon")   (podman's monitor, same container)"
  $P rm -f -t 0 "$pid" >/dev/null
fi

created=$($T create --network none "$IMG" true)
# -x: the rootfs mount point is another filesystem (the image), not the container's own disk.
echo "disk per created container:"
echo "  tsrun   $(du -skx "$WORK/tsrun-root/containers/$created" | cut -f1) kB"
$T rm "$created" >/dev/null
if command -v podman >/dev/null; then
  before=$(du -skx "$WORK/podman-root" | cut -f1)
  $P create --network none "$IMG" true >/dev/null
  after=$(du -skx "$WORK/podman-root" | cut -f1)
  echo "  podman  $((after - before)) kB   (growth of its store for one created container)"
fi
