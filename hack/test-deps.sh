#!/usr/bin/env bash
# Installs every Debian package the test suite and benchmarks use. Idempotent.
set -euo pipefail
packages=(
  build-essential            # the C helper and the native addon
  docker-registry            # the real distribution v2 registry the tests push to
  skopeo umoci               # push images; reference unpacker for fidelity tests
  busybox-static             # the project's busybox image and test rootfs
  debootstrap                # the Debian minbase image
  zstd                       # zstd-compressed layers
  runc                       # differential tests: runc stands in for our launcher
  apache2-utils              # htpasswd for basic-auth registry tests
  openssl                    # certificates for the token-auth registry tests
  libcap2-bin                # getcap: file capabilities survive unpacking
  iproute2 util-linux procps # ip, nsenter/unshare/script, ps
  tini                       # --init (tini-static as PID 1)
  hyperfine                  # benchmarks (hack/bench)
  qemu-system-x86            # hack/vm: a throw-away VM for the pure cgroup v2 tests (TCG emulation)
  linux-image-amd64          # hack/vm: Debian's kernel for that VM (cgroup2 with every controller)
  cpio xz-utils              # hack/vm: pack the VM's initramfs; unpack the kernel's .ko.xz modules
  podman containerd          # real clients of tsrun-oci (test/integration/oci-clients.test.ts)
  python3                    # console-socket receiver (SCM_RIGHTS) in oci-cli.test.ts; a pipe's flags in bin.test.ts
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
