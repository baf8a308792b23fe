import { describe, expect, it } from 'vitest';
import { buildPodManifest } from '../../../../src/engine/rkt/manifest.js';
import { composeAppEnv, defaultAppName, imageReference, parseEnvFileText } from '../../../../src/engine/rkt/rkt-pods.js';
import { UsageError } from '../../../../src/errors.js';

describe('rkt app defaults', () => {
  it('names an app after its image, as rkt did', () => {
    expect(defaultAppName('busybox')).toBe('busybox');
    expect(defaultAppName('docker://127.0.0.1:5000/library/busybox:1.36')).toBe('busybox');
    expect(defaultAppName('quay.io/coreos/etcd@sha256:abc')).toBe('etcd');
    expect(defaultAppName('example.com/My_App:1')).toBe('my-app');
    expect(imageReference('docker://busybox')).toBe('busybox');
  });

  it('composes env with rkt precedence: parent < image < set-env-file < set-env < environment', () => {
    const env = composeAppEnv({
      parent: { P: 'parent', IMG: 'parent', F: 'parent' },
      imageEnv: ['IMG=image', 'PATH=/bin'],
      setEnvFile: ['F=file', 'S=file', 'E=file'],
      setEnv: ['S=setenv', 'E=setenv'],
      environment: ['E=app'],
    });
    const m = Object.fromEntries(env.map((e) => e.split('=')));
    // The image's IMG is not overridden by the parent: it is left out, so the engine keeps the image's value.
    expect(m).toEqual({ P: 'parent', F: 'file', S: 'setenv', E: 'app' });
    expect(composeAppEnv({ imageEnv: [], setEnvFile: [], setEnv: ['A=1=2'], environment: [] })).toEqual(['A=1=2']);
  });

  it('reads --set-env-file lines, skipping comments; refuses lines without =', () => {
    expect(parseEnvFileText('# c\n\nA=1\n  B=two words \n', 'f')).toEqual(['A=1', 'B=two words']);
    expect(() => parseEnvFileText('NOPE\n', '/e')).toThrow(UsageError);
    expect(() => parseEnvFileText('NOPE\n', '/e')).toThrow(/NOPE.*\/e/);
  });

  it('builds an appc pod manifest with apps, volumes (implicit ones too), isolators, stdio annotations and ports', () => {
    const m = buildPodManifest(
      [{
        name: 'web', image: 'busybox', ref: 'busybox', imageId: 'sha256:1', rktImageId: 'sha512-ab', exec: ['/bin/httpd', '-f'], user: '0', group: '0', workingDirectory: '/',
        environment: ['A=1'], mountPoints: [{ name: 'volume-www', path: '/www', readOnly: false }],
        mounts: [{ volume: 'data', path: '/d', readOnly: true }, { volume: 'web-volume-www', path: '/www', readOnly: false }],
        implicit: [{ name: 'web-volume-www', kind: 'empty', readOnly: false, mode: 0o755, uid: 0, gid: 0, mountPoint: 'volume-www', copyFrom: '/www' }],
        memoryBytes: 64e6, cpus: 0.5, stdio: { stdin: 'stream', stdout: 'log', stderr: 'tty' }, interactive: false,
      }],
      { volumes: [{ name: 'data', kind: 'empty', readOnly: false, mode: 0o700 }], ports: [{ name: '80-tcp', hostPort: 8080 }] },
      'rkt-x',
    );
    expect(m.acKind).toBe('PodManifest');
    expect(m.apps[0]).toMatchObject({
      name: 'web',
      image: { name: 'busybox', id: 'sha512-ab' },
      app: {
        exec: ['/bin/httpd', '-f'], environment: [{ name: 'A', value: '1' }], mountPoints: [{ name: 'volume-www', path: '/www', readOnly: false }],
        isolators: [{ name: 'resource/memory', value: { limit: '64000000' } }, { name: 'resource/cpu', value: { limit: '500m' } }],
      },
      mounts: [{ volume: 'data', path: '/d', readOnly: true }, { volume: 'web-volume-www', path: '/www' }],
      annotations: [
        { name: 'coreos.com/rkt/stage2/stdin', value: 'stream' },
        { name: 'coreos.com/rkt/stage2/stdout', value: 'log' },
        { name: 'coreos.com/rkt/stage2/stderr', value: 'tty' },
      ],
    });
    expect(m.volumes).toEqual([
      { name: 'data', kind: 'empty', readOnly: false, mode: '0700' },
      { name: 'web-volume-www', kind: 'empty', readOnly: false, mode: '0755', uid: 0, gid: 0 },
    ]);
    expect(m.ports).toEqual([{ name: '80-tcp', hostPort: 8080 }]);
  });
});
