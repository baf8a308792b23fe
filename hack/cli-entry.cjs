'use strict';
// The entry of a bundled CLI (built into dist/<cli>.cjs by hack/build.mjs, with the CLI's early-warm.ts).
// It runs dist/<cli>.bundle.cjs with the V8 code cache made at build time, so
// a start-up does not compile the bundle again (about 12 ms of every command).
// A cache that does not fit this Node (another version or flags) is rejected
// by V8 and the bundle is compiled as usual.
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');

// bin/<cli> puts a "--" before the user's arguments (Node 20 would otherwise take an
// --env-file among them as its own option): it is not one of them.
if (process.argv[2] === '--') process.argv.splice(2, 1);
// bin/<cli> may have forked the cgroup lock's head start (src/native/cli_launch.c), a
// child of ours since the launcher exec'd Node. It ends within ~40 ms (or with us): a command that
// lives longer reaps it then, so that it does not stay as our zombie; a quicker one leaves it
// to init. (Polled, without a thread: one waking during Node's exit could race its teardown.)
const warmer = Number(process.env.TSRUN_CGROUP_WARMER);
delete process.env.TSRUN_CGROUP_WARMER; // not our children's
const addon = () => require(join(process.env.TSRUN_BUILD_DIR ?? join(__dirname, '..', 'build'), 'tsrun_native.node'));
if (Number.isInteger(warmer) && warmer > 0) {
  const reap = setInterval(() => {
    try {
      if (addon().reapChild(warmer)) clearInterval(reap);
    } catch {
      clearInterval(reap); // not built: nothing to reap with
    }
  }, 50);
  reap.unref();
}
// A command that starts a container begins a slow kernel wait now, before the bundle loads: the
// native addon warms the cgroup migration lock (src/cgroup/lock-warmer.ts says why). Which command
// lines do is the CLI's rule (src/cli/<cli>/early-warm.ts, which hack/build.mjs builds into this file).
try {
  require('tsrun:early-warm').warmBeforeLoad(process.argv.slice(2), () => {
    if (process.getuid() !== 0) return; // only root moves processes between cgroups
    addon().warmOwnCgroupLock();
  });
} catch {
  // it failed: the launcher warms the lock itself, later
}
const bundle = __filename.replace(/\.cjs$/, '.bundle.cjs');
const cacheFile = `${bundle}.cache`;
// The bundle and its cache are mapped rather than read (src/native/map_file.c): reading copied
// ~1.5 MB into fresh pages at every start. The bundle is ASCII (the build checks), so its bytes
// read as Latin-1 are its text. Without the addon (not built yet, Node < 20.4) or where a file
// cannot be mapped, they are read.
let native;
try {
  native = addon();
} catch {
  // read below
}
const mapOrRead = (map, read) => {
  try {
    if (map) return map();
  } catch {
    // read it
  }
  return read();
};
// The bundle first: a build removes the old cache before the new bundle goes in and writes the
// new cache last, so a cache opened after its bundle is never an older build's (V8 would take a
// cache of the same length as the source).
const source = mapOrRead(native?.mapLatin1File && (() => native.mapLatin1File(bundle)), () => readFileSync(bundle, 'utf8'));
let cachedData;
try {
  cachedData = mapOrRead(native?.mapFile && (() => native.mapFile(cacheFile)), () => readFileSync(cacheFile));
} catch {
  // no cache: compile from source
}
// The bundle is a module function already (hack/build.mjs): its text compiles as read.
const script = new Script(source, { filename: bundle, cachedData });
if (process.env.TSRUN_WRITE_CODE_CACHE === cacheFile) {
  // Build time: the cache is written after a representative command ran, so it
  // also holds the functions that command compiled lazily. By rename: a running CLI may have
  // the old one mapped.
  process.on('exit', () => {
    const tmp = `${cacheFile}.tmp${process.pid}`;
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  });
}
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, bundle, __dirname);
