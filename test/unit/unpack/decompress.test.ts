import { describe, expect, it } from 'vitest';
import { ArchiveError } from '../../../src/errors.js';
import { chooseCompression, compressionOfMediaType } from '../../../src/unpack/decompress.js';

const GZIP = Buffer.from([0x1f, 0x8b, 8, 0]);
const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const TAR = Buffer.from('abcd');

describe('compression detection', () => {
  it('reads OCI and Docker media types', () => {
    expect(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar+gzip')).toBe('gzip');
    expect(compressionOfMediaType('application/vnd.docker.image.rootfs.diff.tar.gzip')).toBe('gzip');
    expect(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar+zstd')).toBe('zstd');
    expect(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar')).toBe('none');
    expect(compressionOfMediaType('application/octet-stream')).toBeUndefined();
  });

  it('lets the magic bytes win over a wrong media type', () => {
    expect(chooseCompression('application/vnd.oci.image.layer.v1.tar', GZIP, 'l')).toBe('gzip');
    expect(chooseCompression('application/vnd.oci.image.layer.v1.tar+gzip', ZSTD, 'l')).toBe('zstd');
    expect(chooseCompression('application/octet-stream', TAR, 'l')).toBe('none');
  });

  it('refuses data labelled compressed that is not', () => {
    expect(() => chooseCompression('application/vnd.oci.image.layer.v1.tar+gzip', TAR, 'layer x')).toThrow(ArchiveError);
    expect(() => chooseCompression('application/vnd.oci.image.layer.v1.tar+zstd', TAR, 'layer x')).toThrow(/says zstd/);
  });
});
