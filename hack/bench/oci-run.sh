#!/usr/bin/env bash
# `tsrun-oci run` vs `runc run` of the same prepared bundle (busybox, `true`).
# The last two lines add up to the floor for any Node CLI: a bare Node start (without
# NODE_EXTRA_CA_CERTS, as bin/tsrun-oci runs it) and the bare kernel work of a container.
# Both runtimes run attached, inherit stdio and remove the container at exit.
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
  # The other half of the floor: new namespaces, a chroot and an exec, with no mounts, state or cgroups.
  "unshare -fpmuin chroot $WORK/bundle/rootfs /bin/true"
)
# Each command starts with the cgroup migration lock cold (see run.sh).
interleave --warmup 2 --runs "$RUNS" --prepare "sleep 0.05" --export-json "$WORK/oci-run.json" "${cmds[@]}"
echo "OCI runtime run of a prepared bundle, ratios to runc run (mean of $RUNS interleaved runs):"
ratios "$WORK/oci-run.json" "${cmds[0]}"
