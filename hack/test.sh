#!/usr/bin/env bash
# The whole test suite: type check, unit and integration tests (as root).
set -uo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit -p . || exit 1
node images/build.mjs busybox tricky hostile || exit 1   # minbase is built on demand (debootstrap)
report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report"
status=$?
node hack/test-summary.mjs "$report" || true
rm -f "$report"
exit $status
