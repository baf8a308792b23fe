#!/usr/bin/env node
// The suite's plain closing line, "Tests: N passed, N failed, N skipped".
//   test-summary.mjs REPORT.json                 from vitest's JSON report
//   test-summary.mjs --combine LINE VMLOG STATUS  adds the VM run's counts (from its vitest output) to LINE
import { readFileSync } from 'node:fs';

function fromReport(path) {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  return {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0),
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  };
}

function fromLine(line) {
  const n = (word) => Number(new RegExp(`(\\d+) ${word}`).exec(line)?.[1] ?? 0);
  return { passed: n('passed'), failed: n('failed'), skipped: n('skipped') };
}

/** Counts from vitest's text output ("Tests  71 passed | 2 skipped (73)"), colour codes removed. */
function fromVitestLog(path) {
  let text = '';
  try {
    text = readFileSync(path, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
  } catch {
    return { passed: 0, failed: 0, skipped: 0 };
  }
  const line = text.split('\n').reverse().find((l) => /^\s*Tests\s+\d+/.test(l)) ?? '';
  return fromLine(line);
}

const format = (c) => `Tests: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;

if (process.argv[2] === '--combine') {
  const [, , , line, vmLog, status] = process.argv;
  const host = fromLine(line);
  const vm = fromVitestLog(vmLog);
  const total = { passed: host.passed + vm.passed, failed: host.failed + vm.failed, skipped: host.skipped + vm.skipped };
  // A failing exit status with no failed test counted (a crash, a hung VM) must still read as a failure.
  if (Number(status) !== 0 && total.failed === 0) total.failed = 1;
  console.log(format(total));
} else {
  console.log(format(fromReport(process.argv[2])));
}
