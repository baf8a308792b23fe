// The entries of tsrun and tsrkt warm the cgroup migration lock before their bundle loads, for the
// command lines that start a container process, and only for those.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as docker from '../../../src/cli/docker/early-warm.js';
import * as rkt from '../../../src/cli/rkt/early-warm.js';

const warm = vi.fn();

beforeEach(() => warm.mockClear());

describe('tsrun', () => {
  it.each([
    [['run', '--rm', 'img', 'true']],
    [['--root', '/r', '--runroot=/x', 'start', '-a', 'c']],
    [['restart', 'c']],
    [['exec', 'c', 'ls']],
  ])('warms for %j', (args) => {
    docker.warmBeforeLoad(args, warm);
    expect(warm).toHaveBeenCalledTimes(1);
  });
  it.each([[['ps', '-a']], [['--help']], [['pull', 'run']], [['logs', 'run']], [[]], [['--root', 'run', 'ps']]])('does not warm for %j', (args) => {
    docker.warmBeforeLoad(args, warm);
    expect(warm).not.toHaveBeenCalled();
  });
});

describe('tsrkt', () => {
  it.each([[['run', 'img']], [['--root=/d', 'run-prepared', 'uuid']], [['enter', 'uuid']]])('warms for %j', (args) => {
    rkt.warmBeforeLoad(args, warm);
    expect(warm).toHaveBeenCalledTimes(1);
  });
  it.each([[['list']], [['run', '--help']], [['fetch', 'img']], [['--bogus-global']]])('does not warm for %j', (args) => {
    rkt.warmBeforeLoad(args, warm);
    expect(warm).not.toHaveBeenCalled();
  });
});
