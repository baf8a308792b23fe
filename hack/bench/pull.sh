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

# Each command starts from an empty destination; emptying it (rm -rf of ~5k files) is done by
# hyperfine's --prepare, outside the timing, so it weighs on no one's figure.
cat >"$WORK/gzip-tar.sh" <<EOF2
set -e; mkdir -p $WORK/x
for l in $layers; do mkdir -p $WORK/x/\$(basename \$l); gzip -dc \$l | tar -x --numeric-owner -C $WORK/x/\$(basename \$l); done
EOF2

cmds=("bash $WORK/gzip-tar.sh" "$TSRUN --root $WORK/ts --runroot $WORK/ts-run pull -q $IMG")
prepares=(--prepare "rm -rf $WORK/x" --prepare "rm -rf $WORK/ts $WORK/ts-run")
if command -v podman >/dev/null; then
  P="podman --root $WORK/podman-root --runroot $WORK/podman-run --runtime runc --cgroup-manager cgroupfs --events-backend file"
  # Both stores are reset the same way (rm -rf), so neither pays for a slower reset command.
  cmds+=("$P pull -q --tls-verify=false $IMG")
  prepares+=(--prepare "rm -rf $WORK/podman-root $WORK/podman-run")
  cleanup_fns+=("$P system reset -f >/dev/null 2>&1")
fi
hyperfine -N --warmup 1 --runs "$RUNS" "${prepares[@]}" --export-json "$WORK/pull.json" "${cmds[@]}" >/dev/null
echo "pull + unpack of $IMAGE, ratios to gzip -dc | tar -x:"
ratios "$WORK/pull.json" "${cmds[0]}"
