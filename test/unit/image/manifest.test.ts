import { describe, expect, it } from 'vitest';
import { InvalidManifestError, NotFoundError } from '../../../src/errors.js';
import { digestHex, isValidDigest, sha256Digest } from '../../../src/image/digest.js';
import {
  MANIFEST_ACCEPT, chainIds, formatPlatform, hostPlatform, parseImageConfig, parseManifest, parsePlatform, selectManifest,
} from '../../../src/image/manifest.js';
import { MediaType, type Descriptor, type ImageIndex } from '../../../src/oci/image.js';

const d = (c: string) => 'sha256:' + c.repeat(64);
const desc = (mediaType: string, c = 'a', extra: Partial<Descriptor> = {}): Descriptor => ({ mediaType, digest: d(c), size: 10, ...extra });
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('digest', () => {
  it('hashes and validates', () => {
    expect(sha256Digest('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(isValidDigest(d('a'))).toBe(true);
    expect(isValidDigest('sha512:' + 'f'.repeat(128))).toBe(true);
    expect(isValidDigest('sha256:' + 'a'.repeat(63))).toBe(false);
    expect(isValidDigest('sha256:' + 'A'.repeat(64))).toBe(false);
    expect(digestHex(d('b'))).toBe('b'.repeat(64));
    expect(() => digestHex('sha256:../../etc')).toThrow(InvalidManifestError);
  });
});

describe('parseManifest', () => {
  const manifest = { schemaVersion: 2, config: desc(MediaType.OciConfig), layers: [desc(MediaType.OciLayerGzip, 'b')] };
  const index = { schemaVersion: 2, manifests: [desc(MediaType.OciManifest, 'c', { platform: { os: 'linux', architecture: 'amd64' } })] };

  it('takes the media type from the body first', () => {
    const p = parseManifest(json({ ...manifest, mediaType: MediaType.DockerManifest }), 'application/json');
    expect(p).toMatchObject({ kind: 'manifest', mediaType: MediaType.DockerManifest });
  });
  it('takes the media type from Content-Type when the body has none', () => {
    expect(parseManifest(json(index), `${MediaType.DockerManifestList}; charset=utf-8`)).toMatchObject({ kind: 'index', mediaType: MediaType.DockerManifestList });
    expect(parseManifest(json(manifest), MediaType.OciManifest).kind).toBe('manifest');
  });
  it('guesses from the shape as a last resort', () => {
    expect(parseManifest(json(index)).mediaType).toBe(MediaType.OciIndex);
    expect(parseManifest(json(manifest), 'application/octet-stream').mediaType).toBe(MediaType.OciManifest);
  });
  it('rejects schema1 clearly', () => {
    expect(() => parseManifest(json({ schemaVersion: 1, name: 'x', fsLayers: [] }))).toThrow(/schema 1 is not supported/);
    expect(() => parseManifest(json({ schemaVersion: 2 }), 'application/vnd.docker.distribution.manifest.v1+prettyjws')).toThrow(/schema 1/);
  });
  it('rejects invalid documents', () => {
    expect(() => parseManifest(Buffer.from('{nope'))).toThrow(/not valid JSON/);
    expect(() => parseManifest(json([]))).toThrow(/JSON object/);
    expect(() => parseManifest(json({ ...manifest, schemaVersion: 3 }))).toThrow(/schemaVersion 3/);
    expect(() => parseManifest(json({ ...manifest, mediaType: 'text/html' }))).toThrow(/unsupported manifest media type "text\/html"/);
    expect(() => parseManifest(json({ ...manifest, layers: [{ ...desc(MediaType.OciLayer), digest: 'sha256:xyz' }] }))).toThrow(/layers\[0\]: invalid digest/);
    expect(() => parseManifest(json({ ...manifest, layers: [{ ...desc(MediaType.OciLayer), size: -1 }] }))).toThrow(/invalid size/);
    expect(() => parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciManifest, layers: [] }))).toThrow(/config/);
    expect(() => parseManifest(json({ schemaVersion: 2, mediaType: MediaType.OciIndex }))).toThrow(/manifests/);
    expect(() => parseManifest(json({ schemaVersion: 2 }))).toThrow(/cannot tell/);
  });
  it('Accept lists all four types', () => {
    for (const t of [MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestList, MediaType.DockerManifest]) expect(MANIFEST_ACCEPT).toContain(t);
  });
});

describe('platforms', () => {
  it('parses and normalises', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/arm')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatform('linux/arm/6')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/aarch64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('Linux/AMD64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux').os).toBe('linux');
    expect(() => parsePlatform('linux/amd64/v1/x')).toThrow(/invalid platform/);
    expect(() => parsePlatform('nonsense')).toThrow(/neither a known OS/);
    expect(() => parsePlatform('linux//v7')).toThrow(/malformed/);
  });
  it('formats', () => {
    expect(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux/arm/v7');
    expect(formatPlatform({ os: 'linux', architecture: 'amd64' })).toBe('linux/amd64');
  });
  it('knows the host', () => {
    const h = hostPlatform();
    expect(h.os).toBe('linux');
    expect(h.architecture).toBe(process.arch === 'x64' ? 'amd64' : process.arch);
  });
});

describe('selectManifest', () => {
  const m = (c: string, os: string, architecture: string, variant?: string, mediaType: string = MediaType.OciManifest): Descriptor =>
    desc(mediaType, c, { platform: variant ? { os, architecture, variant } : { os, architecture } });
  const index: ImageIndex = {
    schemaVersion: 2,
    manifests: [
      m('1', 'linux', 'amd64'),
      m('2', 'linux', 'arm', 'v6'),
      m('3', 'linux', 'arm', 'v7'),
      m('4', 'linux', 'arm64', 'v8'),
      m('5', 'unknown', 'unknown'),
      m('6', 'linux', 's390x', undefined, 'application/vnd.in-toto+json'),
    ],
  };
  it('picks exact matches', () => {
    expect(selectManifest(index, parsePlatform('linux/amd64')).digest).toBe(d('1'));
    expect(selectManifest(index, parsePlatform('linux/arm/v7')).digest).toBe(d('3'));
    expect(selectManifest(index, parsePlatform('linux/arm/v6')).digest).toBe(d('2'));
  });
  it('treats arm64 and arm64/v8 as the same', () => {
    expect(selectManifest(index, { os: 'linux', architecture: 'arm64' }).digest).toBe(d('4'));
    expect(selectManifest(index, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest).toBe(d('4'));
    const noVariant: ImageIndex = { schemaVersion: 2, manifests: [m('7', 'linux', 'arm64')] };
    expect(selectManifest(noVariant, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest).toBe(d('7'));
  });
  it('falls back to an older compatible arm variant', () => {
    const onlyV6: ImageIndex = { schemaVersion: 2, manifests: [m('2', 'linux', 'arm', 'v6'), m('8', 'linux', 'arm', 'v5')] };
    expect(selectManifest(onlyV6, parsePlatform('linux/arm/v7')).digest).toBe(d('2'));
    expect(() => selectManifest(onlyV6, parsePlatform('linux/arm/v5'))).not.toThrow();
    const onlyV7: ImageIndex = { schemaVersion: 2, manifests: [m('3', 'linux', 'arm', 'v7')] };
    expect(() => selectManifest(onlyV7, parsePlatform('linux/arm/v6'))).toThrow(NotFoundError);
  });
  it('lists what is available when nothing fits', () => {
    expect(() => selectManifest(index, parsePlatform('linux/ppc64le'))).toThrow(
      /linux\/ppc64le \(the image provides linux\/amd64, linux\/arm\/v6, linux\/arm\/v7, linux\/arm64\/v8, linux\/s390x\)/,
    );
  });
});

describe('image config and chain IDs', () => {
  const cfg = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [d('a')] }, config: { Env: ['A=1'], Cmd: ['sh'] } };
  it('accepts a valid config', () => {
    expect(parseImageConfig(json(cfg)).config?.Cmd).toEqual(['sh']);
    expect(parseImageConfig(json({ ...cfg, config: { Entrypoint: null, Cmd: null } })).os).toBe('linux');
  });
  it('rejects invalid configs', () => {
    expect(() => parseImageConfig(json({ ...cfg, os: undefined }))).toThrow(/"os"/);
    expect(() => parseImageConfig(json({ ...cfg, rootfs: { type: 'x', diff_ids: [] } }))).toThrow(/rootfs/);
    expect(() => parseImageConfig(json({ ...cfg, rootfs: { type: 'layers', diff_ids: ['x'] } }))).toThrow(/diff_ids\[0\]/);
    expect(() => parseImageConfig(json({ ...cfg, config: { Env: 'A=1' } }))).toThrow(/config.Env/);
    expect(() => parseImageConfig(json({ ...cfg, config: { User: 0 } }))).toThrow(/config.User/);
  });
  it('computes chain IDs per the OCI spec', () => {
    const [a, b, c] = [d('a'), d('b'), d('c')];
    const ab = sha256Digest(`${a} ${b}`);
    expect(chainIds([])).toEqual([]);
    expect(chainIds([a])).toEqual([a]);
    expect(chainIds([a, b, c])).toEqual([a, ab, sha256Digest(`${ab} ${c}`)]);
  });
});
