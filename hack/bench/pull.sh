#!/usr/bin/env bash
# Pull + unpack of the Debian minbase image from a local registry into an empty store.
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
IMAGE=${IMAGE:-minbase}
start_registry
push_image "$IMAGE"
IMG=$REGISTRY/$IMAGE

# The same layers as plain files, for the gzip|tar baseline.
mkdir -p "$WORK/layers"
layers=$(node -e '
  const fs = require("fs"); const dir = process.argv[1];
  const index = JSON.parse(fs.readFileSync(dir + "/index.json"));
  const blob = (d) => dir + "/blobs/" + d.replace(":", "/");
  const m = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest)));
  console.log(m.layers.map((l) => blob(l.digest)).join(" "));
' "$REPO/images/out/$IMAGE")

# Each command starts from an empty destination. The previous one is moved aside by the untimed
# --prepare and deleted at the end: on this host's ext4 (no journal), creating files soon after
# deleting thousands makes the inode allocator skip the recently freed inodes (perf:
# recently_deleted), which would make every run measure the benchmark's own rm -rf.
# The prepare step also syncs, so no run pays for writing back the previous runs' ~150 MB
# (kernel writeback threads competing for the 2 cores made the ratios swing by 0.3).
mkdir -p "$WORK/trash"
aside() { echo "bash -c 'sync; if [ -e $1 ]; then mv $1 $WORK/trash/\$(date +%s%N); fi; rm -rf ${2:-/nonexistent}'"; }
cat >"$WORK/gzip-tar.sh" <<EOF2
set -e; mkdir -p $WORK/x
for l in $layers; do mkdir -p $WORK/x/\$(basename \$l); gzip -dc \$l | tar -x --numeric-owner -C $WORK/x/\$(basename \$l); done
EOF2

cmds=("bash $WORK/gzip-tar.sh" "$TSRUN --root $WORK/ts --runroot $WORK/ts-run pull -q $IMG")
prepares=(--prepare "$(aside $WORK/x)" --prepare "$(aside $WORK/ts $WORK/ts-run)")
if command -v podman >/dev/null; then
  P="podman --root $WORK/podman-root --runroot $WORK/podman-run --runtime runc --cgroup-manager cgroupfs --events-backend file"
  # Both stores are reset the same way (moved aside), so neither pays for a slower reset command.
  cmds+=("$P pull -q --tls-verify=false $IMG")
  prepares+=(--prepare "$(aside $WORK/podman-root $WORK/podman-run)")
  cleanup_fns+=("$P system reset -f >/dev/null 2>&1")
fi
interleave --warmup 1 --runs "$RUNS" "${prepares[@]}" --export-json "$WORK/pull.json" "${cmds[@]}"
echo "pull + unpack of $IMAGE, ratios to gzip -dc | tar -x:"
ratios "$WORK/pull.json" "${cmds[0]}"
