#!/usr/bin/env bash
# Runs a command as root inside a throw-away VM whose cgroups are pure v2
# (cgroup2 on /sys/fs/cgroup with every controller), for tests that need a
# unified host. The host's root is shared read-only over 9p with a tmpfs
# overlay on top, so the host's node, busybox and this checkout are used as-is.
#
#   hack/vm/cgroup2-vm.sh npx vitest run test/integration/cgroup.test.ts
#
# Needs: qemu-system-x86 linux-image-amd64 busybox-static (Debian). Uses TCG
# (TSRUN_VM_ACCEL=kvm for KVM where it works). Prints the command's
# output and exits with its status.
set -euo pipefail
cd "$(dirname "$0")/../.."
checkout=$(pwd)

kver=$(ls /lib/modules | grep -E 'amd64$' | sort -V | tail -1 || true)
kernel=/boot/vmlinuz-$kver
if [[ -z "$kver" || ! -r "$kernel" ]]; then
  echo "cgroup2-vm: no Debian kernel found; apt-get install -y linux-image-amd64 qemu-system-x86" >&2
  exit 125
fi
command -v qemu-system-x86_64 >/dev/null || { echo "cgroup2-vm: qemu-system-x86_64 missing (apt-get install -y qemu-system-x86)" >&2; exit 125; }

work=$(mktemp -d /tmp/tsrun-vm.XXXXXX)
trap '[[ -n "${TSRUN_VM_KEEP:-}" ]] || rm -rf "$work"' EXIT
mkdir -p "$work/initrd/bin" "$work/initrd/modules" "$work/out"

# --- initramfs: busybox + the modules for virtio 9p and overlayfs, in load order.
cp /bin/busybox "$work/initrd/bin/busybox"
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay; do
  f=$(find "/lib/modules/$kver" -name "$m.ko*" | head -1)
  [[ -n "$f" ]] || continue # built in
  case "$f" in
    *.xz) xz -dc "$f" >"$work/initrd/modules/$m.ko" ;;
    *.zst) zstd -qdc "$f" >"$work/initrd/modules/$m.ko" ;;
    *) cp "$f" "$work/initrd/modules/$m.ko" ;;
  esac
  echo "$m" >>"$work/initrd/modules/order"
done
cat >"$work/initrd/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /lower /upper /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
for m in $(/bin/busybox cat /modules/order); do /bin/busybox insmod /modules/$m.ko; done
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /lower
/bin/busybox mount -t tmpfs -o size=1G tmpfs /upper
/bin/busybox mkdir -p /upper/u /upper/w
/bin/busybox mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot
/bin/busybox mkdir -p /newroot/vmout
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 vmout /newroot/vmout
/bin/busybox umount /proc
exec /bin/busybox switch_root /newroot /bin/sh /vmout/stage2.sh
EOF
chmod +x "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc --quiet | gzip -1 >"$work/initrd.gz")

# --- stage 2, inside the overlay root: a pure cgroup v2 system.
{
  echo '#!/bin/sh'
  echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null'
  echo 'mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm'
  # Fresh tmpfs on /tmp and /run (overlay upper dirs cannot live on the overlay root); a
  # checkout under either (CI clones anywhere) is bound aside first and put back at its path.
  echo "mkdir -p /.checkout && mount --bind '$checkout' /.checkout"
  echo 'mount -t tmpfs tmpfs /tmp; mount -t tmpfs tmpfs /run'
  echo "[ -e '$checkout/package.json' ] || { mkdir -p '$checkout' && mount --bind /.checkout '$checkout'; }"
  echo 'mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup'
  echo 'ip link set lo up 2>/dev/null'
  echo "export PATH='$PATH' HOME=/root TSRUN_IN_VM=1 CI=1"
  [[ -n "${NODE_EXTRA_CA_CERTS:-}" ]] && echo "export NODE_EXTRA_CA_CERTS='$NODE_EXTRA_CA_CERTS'"
  echo "cd '$checkout'"
  printf '%q ' "$@"
  echo '>/vmout/output 2>&1'
  echo 'echo $? >/vmout/status'
  echo 'echo "stage2: command done" >/dev/console'
  # Power off straight away: the root is a tmpfs overlay, there is nothing to save.
  echo 'echo o >/proc/sysrq-trigger'
  echo 'sleep 5; echo "stage2: sysrq poweroff did not happen" >/dev/console; poweroff -f'
} >"$work/out/stage2.sh"

# TCG by default: on the project's machines /dev/kvm may exist yet hang a guest.
# TSRUN_VM_ACCEL=kvm opts in where KVM works.
accel=${TSRUN_VM_ACCEL:-tcg}

# A guest that hangs must not hang the caller.
timeout "${TSRUN_VM_TIMEOUT:-900}" qemu-system-x86_64 -accel "$accel" -m 2G -smp 2 \
  -kernel "$kernel" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 ${TSRUN_VM_KERNEL_ARGS:-quiet loglevel=3} sysrq_always_enabled=1 panic=-1 rdinit=/init systemd.unified_cgroup_hierarchy=1" \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap" \
  -virtfs "local,path=$work/out,mount_tag=vmout,security_model=passthrough,multidevs=remap" \
  -display none -monitor none -serial "file:$work/serial.log" -no-reboot </dev/null 2>"$work/qemu.err" || true

cat "$work/out/output" 2>/dev/null || { echo "cgroup2-vm: the VM produced no output ($accel); qemu and serial console:" >&2; cat "$work/qemu.err" "$work/serial.log" >&2; }
status=$(cat "$work/out/status" 2>/dev/null || echo 125)
exit "$status"
