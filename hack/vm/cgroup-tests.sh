#!/usr/bin/env bash
# The cgroup tests on a pure cgroup v2 host: the unit and integration tests of
# src/cgroup and the end-to-end limits test (OOM, pids, cpu, stats, pause,
# update, cleanup), run inside the VM of hack/vm/cgroup2-vm.sh. The build
# hosts are hybrid, so this is where cgroup2-only paths meet a real kernel.
# Images come from an OCI-layout tar (tsrun load): the VM has only lo.
# About 2 minutes under TCG on 2 cores (boot ~10 s, vitest start ~20 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
# The limits test drives the built CLI and the project's busybox image (both shared into the VM over 9p).
[[ -f dist/tsrun.cjs ]] || npm run build >/dev/null
[[ -f images/out/busybox/index.json ]] || node images/build.mjs busybox >/dev/null
exec hack/vm/cgroup2-vm.sh npx vitest run test/unit/cgroup test/integration/cgroup.test.ts test/integration/limits.test.ts
