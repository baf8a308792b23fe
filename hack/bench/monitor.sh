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

monitor_of() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).monitorPid)' "$WORK/tsrun-run/runtime/$1/state.json"; }
rss() { awk '/^Rss:/ {print $2}' "/proc/$1/smaps_rollup"; }
# The target: a monitor stays within 1 MB of RSS, attached to or not (src/helper/PLAN.md).
over=0
check() { local r; r=$(rss "$1"); [ "$r" -le 1024 ] || { echo "  ^ over the 1024 kB target"; over=1; }; }

id=$($T run -d --network none "$IMG" sleep 600)
monitor=$(monitor_of "$id")
echo "monitor of a sleeping container:"
echo "  tsrun-helper  $(mem "$monitor")"
check "$monitor"
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

# A -dit shell: idle, then while `tsrun attach` (in a pty from script) runs a command, then after it detached.
id=$($T run -dit --network none "$IMG" sh)
monitor=$(monitor_of "$id")
sleep 0.5
echo "monitor of a -dit shell:"
echo "  idle            $(mem "$monitor")"
check "$monitor"
(sleep 1; printf 'seq 1 20000\r'; sleep 2; printf '\020\021') | script -qfec "$T attach $id" /dev/null >/dev/null &
attach=$!
sleep 2.5
echo "  attached        $(mem "$monitor")"
check "$monitor"
wait "$attach" || true
echo "  after detach    $(mem "$monitor")"
check "$monitor"
$T rm -f "$id" >/dev/null

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

[ "$over" = 0 ] || { echo "monitor RSS over 1024 kB (see above)"; exit 1; }
