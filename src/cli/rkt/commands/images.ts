// tsrkt fetch and tsrkt image list|rm|cat-manifest|export|extract|render|gc.
// Images are the engine's (OCI/Docker) images shared with tsrun. tsrkt shows
// them with rkt's "sha512-" IDs (engine/rkt/image-id.ts: derived from the
// image's config blob; "sha512-" + 12 hex digits in lists, 64 with --full or
// in JSON) and takes those IDs or any prefix of them (at least "sha512-" and 2
// hex digits) wherever an image is named, as well as names and tsrun's
// "sha256:" IDs. `docker://` is accepted and dropped: every image here comes
// from a Docker/OCI registry.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ConflictError, describeError, StoreError, UsageError } from '../../../errors.js';
import { saveImagesToFile } from '../../../engine/archive.js';
import { familiarName, inspectImage, listImages, mountImage, pruneImages, removeImage, unmountImage } from '../../../engine/images.js';
import { pullImage } from '../../../engine/pull.js';
import { engineImageRef, rktImageIdOf } from '../../../engine/rkt/image-id.js';
import { imageLastUsed } from '../../../engine/rkt/image-use.js';
import { registryOptionsFor } from '../../../engine/rkt/insecure-options.js';
import { dockerMountPoints } from '../../../engine/rkt/mount-points.js';
import { imageReference } from '../../../engine/rkt/rkt-pods.js';
import { isMounted } from '../../../engine/rootfs.js';
import type { ImageRecord } from '../../../store/index.js';
import { writeJsonAtomic } from '../../../util/fs.js';
import { action, contextOf } from '../../common.js';
import { EXIT_RKT } from '../../exit.js';
import { humanSize } from '../../format.js';
import { printColumns } from '../engine-access.js';
import { insecureOptionsOf } from '../global-flags.js';
import { DEFAULT_FIELDS, IMAGE_FIELDS, imageTable, parseFieldList, parseOrder, sortImageRows, type ImageRow } from '../image-list.js';
import { stdout } from '../../stdout.js';

const act = <A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) => action('tsrkt', fn, EXIT_RKT);

/** appc-style image manifest of an OCI/Docker image (what `rkt image cat-manifest` printed for ACIs). */
export function imageManifestOf(rec: ImageRecord) {
  const cfg = rec.config.config ?? {};
  const exec = [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])];
  const [user = '0', group = '0'] = (cfg.User || '0').split(':');
  const name = rec.repoTags[0] ?? rec.id;
  return {
    acKind: 'ImageManifest',
    acVersion: '0.8.11',
    name: familiarName(name),
    labels: [
      { name: 'os', value: rec.config.os },
      { name: 'arch', value: rec.config.architecture },
      ...(rec.repoTags[0] ? [{ name: 'version', value: familiarName(rec.repoTags[0]).split(':').pop() ?? 'latest' }] : []),
    ],
    app: {
      exec,
      user,
      group,
      workingDirectory: cfg.WorkingDir || '/',
      environment: (cfg.Env ?? []).map((e) => ({ name: e.split('=')[0], value: e.slice(e.indexOf('=') + 1) })),
      ports: Object.keys(cfg.ExposedPorts ?? {}).map((p) => {
        const [port, proto = 'tcp'] = p.split('/');
        return { name: `${port}-${proto}`, protocol: proto, port: Number(port) };
      }),
      mountPoints: dockerMountPoints(cfg.Volumes),
    },
    annotations: [{ name: 'created', value: rec.created }, { name: 'io.tsrun.image.id', value: rec.id }],
  };
}

/** Copies the image's merged tree (overlay of its layers, whiteouts applied) into `dest/rootfs`. */
async function extractImage(cmd: Command, name: string, dest: string, opts: { rootfsOnly?: boolean; overwrite?: boolean }): Promise<void> {
  const ctx = contextOf(cmd);
  const rec = inspectImage(ctx, engineImageRef(ctx, name));
  if (existsSync(dest) && readdirSync(dest).length > 0 && !opts.overwrite) {
    throw new ConflictError(`${dest} is not empty: use --overwrite to write into it`);
  }
  const target = opts.rootfsOnly ? dest : join(dest, 'rootfs');
  mkdirSync(target, { recursive: true });
  const dir = join(ctx.root, 'image-mounts'); // where mountImage puts it
  const wasMounted = existsSync(dir) && readdirSync(dir).some((d) => rec.id.endsWith(d) && isMounted(join(dir, d)));
  const mnt = await mountImage(ctx, rec.id);
  try {
    const r = spawnSync('cp', ['-a', `${mnt}/.`, `${target}/`], { encoding: 'utf8' });
    if (r.status !== 0) throw new StoreError(`copying image ${name} to ${target} failed: ${r.stderr.trim() || r.error?.message}`);
  } finally {
    if (!wasMounted) await unmountImage(ctx, rec.id).catch(() => undefined);
  }
  if (!opts.rootfsOnly) {
    writeJsonAtomic(join(dest, 'manifest'), imageManifestOf(rec));
  }
}

export function registerImageVerbs(program: Command): void {
  program
    .command('fetch')
    .description('fetch images into the store; prints the image ID last')
    .argument('<images...>', 'docker://NAME[:TAG] or NAME[:TAG]')
    .action(
      act(async (images: string[], _opts: unknown, self: Command) => {
        const ctx = contextOf(self);
        const registryOptions = registryOptionsFor(insecureOptionsOf(self)); // tls, http
        for (const img of images) {
          process.stderr.write(`pulling ${imageReference(img)}\n`);
          const rec = await pullImage(ctx, imageReference(img), { registryOptions });
          stdout.write(`${rktImageIdOf(ctx, rec)}\n`);
        }
      }),
    );

  const image = program.command('image').description('operate on the image store');

  image
    .command('list')
    .description('list images')
    .option('--no-legend', 'no header line')
    .option('--full', 'full IDs, sizes in bytes and absolute times')
    .option('--format <format>', 'json')
    .option('--fields <fields>', `comma-separated columns, from ${IMAGE_FIELDS.join(', ')}`)
    .option('--sort <fields>', 'comma-separated fields to sort by', 'importtime')
    .option('--order <order>', 'asc or desc', 'asc')
    .action(
      act((opts: { legend: boolean; full?: boolean; format?: string; fields?: string; sort: string; order: string }, self: Command) => {
        const ctx = contextOf(self);
        // Every flag is checked before anything is printed.
        const fields = opts.fields === undefined ? DEFAULT_FIELDS : parseFieldList(opts.fields, '--fields');
        const sort = parseFieldList(opts.sort, '--sort');
        const order = parseOrder(opts.order);
        if (opts.format !== undefined && opts.format !== 'json') throw new UsageError(`invalid --format "${opts.format}": tsrkt knows json`);
        const rows: ImageRow[] = [];
        const firstNames = new Set<ImageRow>(); // JSON has one entry per image, under its first name, as before
        for (const r of listImages(ctx)) {
          const id = rktImageIdOf(ctx, r);
          const importTime = Date.parse(r.pulledAt);
          const lastUsed = imageLastUsed(ctx, r.id, importTime);
          const names = r.repoTags.length > 0 ? r.repoTags.map(familiarName) : ['<none>'];
          for (const name of names) rows.push({ id, name, size: r.size, importTime, lastUsed, latest: name.endsWith(':latest') });
          firstNames.add(rows[rows.length - names.length]!);
        }
        const sorted = sortImageRows(rows, sort, order);
        if (opts.format === 'json') {
          // rkt's ImageListEntry: times in ns since the epoch.
          const json = sorted.filter((r) => firstNames.has(r)).map((r) => ({ id: r.id, name: r.name, import_time: r.importTime * 1e6, last_used_time: r.lastUsed * 1e6, size: r.size }));
          stdout.write(JSON.stringify(json) + '\n');
          return;
        }
        printColumns(imageTable(sorted, fields, { full: Boolean(opts.full), legend: opts.legend }));
      }),
    );

  image
    .command('rm')
    .description('remove images by ID or name')
    .argument('<images...>')
    .action(
      act(async (names: string[], _opts: unknown, self: Command) => {
        const ctx = contextOf(self);
        let failed = 0;
        let removed = 0;
        for (const n of names) {
          try {
            const ref = engineImageRef(ctx, n);
            const rec = inspectImage(ctx, ref);
            const id = rktImageIdOf(ctx, rec);
            const r = await removeImage(ctx, ref);
            if (r.deleted.length > 0) {
              removed++;
              const name = rec.repoTags[0] ? ` ("${familiarName(rec.repoTags[0])}")` : '';
              process.stderr.write(`tsrkt: successfully removed aci for image: "${id}"${name}\n`);
            } else {
              process.stderr.write(`tsrkt: removed the name ${r.untagged.join(', ')}: image "${id}" keeps its other names\n`);
            }
          } catch (err) {
            process.stderr.write(`tsrkt: ${n}: ${describeError(err)}\n`);
            failed++;
          }
        }
        if (removed > 0) process.stderr.write(`tsrkt: ${removed} image(s) successfully removed\n`);
        return failed ? EXIT_RKT : 0;
      }),
    );

  image
    .command('cat-manifest')
    .description("print an image's manifest (appc form)")
    .argument('<image>')
    .option('--pretty-print [bool]', 'indent the JSON', 'true')
    .action(
      act((name: string, opts: { prettyPrint: string | boolean }, self: Command) => {
        const ctx = contextOf(self);
        const rec = inspectImage(ctx, engineImageRef(ctx, name));
        const pretty = opts.prettyPrint !== 'false' && opts.prettyPrint !== false;
        stdout.write(JSON.stringify(imageManifestOf(rec), null, pretty ? 2 : undefined) + '\n');
      }),
    );

  image
    .command('export')
    .description('write an image to a tar file (OCI layout and docker-archive in one)')
    .argument('<image>')
    .argument('<file>')
    .option('--overwrite', 'replace an existing file')
    .action(
      act(async (name: string, file: string, opts: { overwrite?: boolean }, self: Command) => {
        if (existsSync(file) && !opts.overwrite) throw new ConflictError(`${file} exists: use --overwrite to replace it`);
        const ctx = contextOf(self);
        await saveImagesToFile(ctx, [engineImageRef(ctx, name)], file);
      }),
    );

  for (const verb of ['extract', 'render'] as const) {
    image
      .command(verb)
      .description(verb === 'extract' ? "write an image's files (rootfs/ and manifest) to a directory" : "render an image's root filesystem into a directory")
      .argument('<image>')
      .argument('<dir>')
      .option('--rootfs-only', 'only the root filesystem, no manifest')
      .option('--overwrite', 'write into a non-empty directory')
      .action(act((name: string, dest: string, opts: { rootfsOnly?: boolean; overwrite?: boolean }, self: Command) => extractImage(self, name, dest, opts)));
  }

  image
    .command('gc')
    .description('remove images no pod or container uses (dangling ones; --all for every unused one)')
    .option('--all', 'also unused tagged images')
    .action(
      act(async (opts: { all?: boolean }, self: Command) => {
        const r = await pruneImages(contextOf(self), { all: Boolean(opts.all) });
        for (const d of r.deleted) stdout.write(`removed ${d}\n`);
        stdout.write(`reclaimed ${humanSize(r.reclaimed)}\n`);
      }),
    );
}
