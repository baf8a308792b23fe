#!/usr/bin/env node
// Times commands in alternation: every round runs every command once, in an order
// shuffled anew each round (seeded: reruns take the same orders), so drift on this
// shared machine (other load, page-cache writeback, the filesystem filling) hits
// every command alike, and no command always runs right after the same other one.
// That matters on this VM: a command that exits hands its memory back, and the
// next command's writes go to those pages fast, or to pages the host must fault in
// first (~10 times slower) after a command that freed little. hyperfine runs all
// of one command's runs before the next command's, which it cannot do.
//
// Usage (hyperfine -N's shape, which the scripts used before):
//   interleave.mjs --runs N [--warmup W] --export-json FILE [--prepare CMD]... CMD...
// One --prepare runs before every command; one per command runs before that
// command. Prepare steps are untimed. Commands are split into words like a
// shell would (quotes and backslashes), then run without a shell.
// FILE gets {results: [{command, mean, stddev, median, min, max, times}]} in seconds.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

function parseArgs(argv) {
  const opts = { runs: 10, warmup: 0, exportJson: undefined, prepares: [], commands: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') opts.runs = Number(argv[++i]);
    else if (a === '--warmup') opts.warmup = Number(argv[++i]);
    else if (a === '--export-json') opts.exportJson = argv[++i];
    else if (a === '--prepare') opts.prepares.push(argv[++i]);
    else if (a.startsWith('--')) throw new Error(`interleave: unknown option ${a}`);
    else opts.commands.push(a);
  }
  if (!opts.commands.length) throw new Error('interleave: no command given');
  if (![0, 1, opts.commands.length].includes(opts.prepares.length)) {
    throw new Error('interleave: give one --prepare for all commands or one per command');
  }
  if (!(opts.runs >= 1)) throw new Error('interleave: --runs must be at least 1');
  return opts;
}

/** Splits a command line into words: single and double quotes, backslash escapes. */
export function shellWords(line) {
  const words = [];
  let word = null;
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new Error(`interleave: unterminated quote in: ${line}`);
  if (word !== null) words.push(word);
  return words;
}

function runOnce(command, what) {
  const [file, ...args] = shellWords(command);
  const start = process.hrtime.bigint();
  const r = spawnSync(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    throw new Error(`interleave: ${what} failed (${why}): ${command}\n${r.stderr?.toString() ?? ''}`);
  }
  return seconds;
}

function stats(command, times) {
  const n = times.length;
  const mean = times.reduce((s, t) => s + t, 0) / n;
  const stddev = n > 1 ? Math.sqrt(times.reduce((s, t) => s + (t - mean) ** 2, 0) / (n - 1)) : 0;
  const sorted = [...times].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { command, mean, stddev, median, min: sorted[0], max: sorted[n - 1], times };
}

/** mulberry32: a small PRNG whose sequence is fixed by its seed. */
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates, in place. */
function shuffled(items, random) {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const n = opts.commands.length;
  const prepareFor = (i) => opts.prepares[opts.prepares.length === 1 ? 0 : i];
  const times = opts.commands.map(() => []);
  const random = seededRandom(1);
  for (let round = 0; round < opts.warmup + opts.runs; round++) {
    for (const i of shuffled([...Array(n).keys()], random)) {
      const prepare = prepareFor(i);
      if (prepare) runOnce(prepare, 'prepare');
      const t = runOnce(opts.commands[i], 'command');
      if (round >= opts.warmup) times[i].push(t);
    }
  }
  const results = opts.commands.map((c, i) => stats(c, times[i]));
  const json = JSON.stringify({ results }, null, 2);
  if (opts.exportJson) writeFileSync(opts.exportJson, json);
  else process.stdout.write(`${json}\n`);
}

main();
