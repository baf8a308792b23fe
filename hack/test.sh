#!/usr/bin/env bash
# The whole test suite: type check, unit and integration tests (as root).
set -uo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit -p . || exit 1
node images/build.mjs busybox tricky hostile || exit 1   # minbase is built on demand (debootstrap)
report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report"
status=$?
host_summary=$(node hack/test-summary.mjs "$report" || echo "Tests: 0 passed, 1 failed, 0 skipped")
echo "host suite: $host_summary"
rm -f "$report"
vm_log=$(mktemp)

# Pure cgroup v2 (the build hosts are hybrid): the cgroup and limits tests in a
# VM under qemu (hack/vm/cgroup-tests.sh, ~2 min under TCG emulation). The
# whole suite must stay under TSRUN_TEST_BUDGET seconds (20 minutes). TCG is
# the default because /dev/kvm on these machines can hang a guest
# (TSRUN_VM_ACCEL=kvm opts in); without usable KVM the step is skipped only
# when emulation would not fit in what is left of the budget.
budget=${TSRUN_TEST_BUDGET:-1200}
estimate=${TSRUN_VM_ESTIMATE:-300}
remaining=$((budget - SECONDS))
kvm=no
[[ "${TSRUN_VM_ACCEL:-tcg}" == kvm && -e /dev/kvm ]] && kvm=yes
echo
if ! command -v qemu-system-x86_64 >/dev/null || ! compgen -G '/boot/vmlinuz-*-amd64' >/dev/null; then
  echo "cgroup v2 VM tests: SKIPPED: qemu-system-x86 or linux-image-amd64 is not installed (hack/test-deps.sh installs them)"
elif [[ $kvm == no && $remaining -lt $estimate ]]; then
  echo "cgroup v2 VM tests: SKIPPED: no KVM, and emulation (~${estimate}s) does not fit in the ${remaining}s left of the ${budget}s budget"
else
  echo "cgroup v2 VM tests: test/unit/cgroup, test/integration/cgroup.test.ts, test/integration/limits.test.ts in a pure cgroup v2 VM (accel: $([[ $kvm == yes ]] && echo kvm || echo tcg))"
  vm_start=$SECONDS
  # Never let a hung guest outlast the budget.
  limit=$((remaining > estimate ? remaining : estimate))
  TSRUN_VM_TIMEOUT=$limit bash hack/vm/cgroup-tests.sh 2>&1 | tee "$vm_log"
  vm_status=${PIPESTATUS[0]}
  echo "cgroup v2 VM tests: exit status $vm_status after $((SECONDS - vm_start))s"
  ((status == 0)) && status=$vm_status
fi
echo "whole suite: $((SECONDS / 60))m$((SECONDS % 60))s"
# One closing line for CI, counting the VM's tests too.
node hack/test-summary.mjs --combine "$host_summary" "$vm_log" "$status"
rm -f "$vm_log"
exit $status
