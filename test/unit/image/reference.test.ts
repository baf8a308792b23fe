import { describe, expect, it } from 'vitest';
import { InvalidReferenceError } from '../../../src/errors.js';
import {
  familiarRepository, familiarString, fetchTarget, parseReference, referenceString, repositoryName,
} from '../../../src/image/reference.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('parseReference normalisation', () => {
  const cases: [string, string, string][] = [
    // input, full reference, familiar
    ['ubuntu', 'docker.io/library/ubuntu:latest', 'ubuntu:latest'],
    ['ubuntu:22.04', 'docker.io/library/ubuntu:22.04', 'ubuntu:22.04'],
    ['library/ubuntu', 'docker.io/library/ubuntu:latest', 'ubuntu:latest'],
    ['docker.io/ubuntu', 'docker.io/library/ubuntu:latest', 'ubuntu:latest'],
    ['docker.io/foo/bar', 'docker.io/foo/bar:latest', 'foo/bar:latest'],
    ['index.docker.io/foo/bar:1', 'docker.io/foo/bar:1', 'foo/bar:1'],
    ['index.docker.io/ubuntu', 'docker.io/library/ubuntu:latest', 'ubuntu:latest'],
    ['foo/bar', 'docker.io/foo/bar:latest', 'foo/bar:latest'],
    ['foo/bar/baz', 'docker.io/foo/bar/baz:latest', 'foo/bar/baz:latest'],
    ['localhost/foo', 'localhost/foo:latest', 'localhost/foo:latest'],
    ['localhost:5000/a/b:tag', 'localhost:5000/a/b:tag', 'localhost:5000/a/b:tag'],
    ['127.0.0.1:5000/x', '127.0.0.1:5000/x:latest', '127.0.0.1:5000/x:latest'],
    ['quay.io/coreos/etcd:v3.5', 'quay.io/coreos/etcd:v3.5', 'quay.io/coreos/etcd:v3.5'],
    ['myhost:443/a', 'myhost:443/a:latest', 'myhost:443/a:latest'],
    [`ubuntu@${D}`, `docker.io/library/ubuntu@${D}`, `ubuntu@${D}`],
    [`ubuntu:22.04@${D}`, `docker.io/library/ubuntu:22.04@${D}`, `ubuntu:22.04@${D}`],
    [`localhost:5000/a@${D}`, `localhost:5000/a@${D}`, `localhost:5000/a@${D}`],
    ['a__b/c-d/e.f_g---h:T_a.g-1', 'docker.io/a__b/c-d/e.f_g---h:T_a.g-1', 'a__b/c-d/e.f_g---h:T_a.g-1'],
    ['[::1]:5000/foo', '[::1]:5000/foo:latest', '[::1]:5000/foo:latest'],
  ];
  it.each(cases)('%s', (input, full, familiar) => {
    const ref = parseReference(input);
    expect(referenceString(ref)).toBe(full);
    expect(familiarString(ref)).toBe(familiar);
    // Normalisation is idempotent.
    expect(referenceString(parseReference(full))).toBe(full);
    expect(referenceString(parseReference(familiar))).toBe(full);
  });

  it('splits into domain, path, tag, digest', () => {
    expect(parseReference('ubuntu')).toEqual({ domain: 'docker.io', path: 'library/ubuntu', tag: 'latest' });
    expect(parseReference(`localhost:5000/a/b:t@${D}`)).toEqual({ domain: 'localhost:5000', path: 'a/b', tag: 't', digest: D });
    expect(parseReference(`x@${D}`).tag).toBeUndefined();
  });

  it('names repositories', () => {
    expect(repositoryName(parseReference('ubuntu'))).toBe('docker.io/library/ubuntu');
    expect(familiarRepository(parseReference('ubuntu'))).toBe('ubuntu');
    expect(familiarRepository(parseReference('library/a/b'))).toBe('library/a/b');
    expect(familiarRepository(parseReference('localhost:5000/a/b'))).toBe('localhost:5000/a/b');
  });

  it('fetches by digest when both tag and digest are given', () => {
    expect(fetchTarget(parseReference(`a:t@${D}`))).toBe(D);
    expect(fetchTarget(parseReference('a:t'))).toBe('t');
  });
});

describe('parseReference rejects', () => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['Ubuntu', /lowercase/],
    ['foo/Bar', /lowercase/],
    ['docker.io/Foo', /lowercase/],
    ['ubuntu:', /tag after ":" is empty/],
    ['ubuntu:-bad', /tag "-bad"/],
    ['ubuntu:.bad', /tag ".bad"/],
    ['ubuntu:a+b', /tag "a\+b"/],
    ['ubuntu:' + 'a'.repeat(129), /longer than 128/],
    ['a:b:c', /"a:b" contains ":"/],
    ['ubuntu@sha256:abc', /not a valid digest/],
    ['ubuntu@sha256:' + 'A'.repeat(64), /not a valid digest/],
    ['ubuntu@md5:' + 'a'.repeat(32), /not a valid digest/],
    ['ubuntu@', /not a valid digest/],
    ['foo//bar', /empty component/],
    ['foo/', /empty component/],
    ['-foo', /path component "-foo"/],
    ['foo_', /path component "foo_"/],
    ['foo...bar', /path component/],
    ['a b', /whitespace/],
    [':tag', /repository name is empty/],
    ['a'.repeat(64), /image ID/],
    ['localhost:5000/', /empty/],
    ['-host.com/foo', /registry host/],
    ['x/' + 'a'.repeat(260), /longer than 255/],
  ];
  it.each(bad)('%s', (input, why) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidReferenceError);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toContain(`"${input}"`);
  });
});
