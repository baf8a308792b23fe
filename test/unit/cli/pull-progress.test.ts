import { describe, expect, it } from 'vitest';
import { PullProgress, progressBar } from '../../../src/cli/docker/pull-progress.js';
import type { PullEvent } from '../../../src/engine/pull.js';

function sink() {
  const out = { text: '', write(s: string) { out.text += s; return true; } };
  return out;
}

const start: PullEvent = { type: 'start', input: 'busybox', reference: 'docker.io/library/busybox:latest', familiar: 'busybox:latest', path: 'library/busybox', tag: 'latest', defaultTag: true };
const layer = (id: string, status: Extract<PullEvent, { type: 'layer' }>['status'], current?: number, total?: number): PullEvent => ({ type: 'layer', id, status, current, total });

describe('PullProgress', () => {
  it('prints one line per state change when not on a terminal', () => {
    const out = sink();
    const p = new PullProgress(out as never, false);
    for (const e of [
      start, layer('aaa', 'Pulling fs layer'), layer('aaa', 'Downloading', 1, 10), layer('aaa', 'Downloading', 5, 10),
      layer('aaa', 'Download complete'), layer('aaa', 'Pull complete'),
      { type: 'done', digest: 'sha256:x', upToDate: false, reference: 'docker.io/library/busybox:latest', familiar: 'busybox:latest', image: {} as never } as PullEvent,
    ]) p.handle(e);
    expect(out.text).toBe([
      'Using default tag: latest', 'latest: Pulling from library/busybox', 'aaa: Pulling fs layer', 'aaa: Downloading',
      'aaa: Download complete', 'aaa: Pull complete', 'Digest: sha256:x', 'Status: Downloaded newer image for busybox:latest',
      'docker.io/library/busybox:latest', '',
    ].join('\n'));
  });

  it('redraws a layer line in place on a terminal', () => {
    const out = sink();
    const p = new PullProgress(out as never, true);
    p.handle(layer('aaa', 'Pulling fs layer'));
    p.handle(layer('bbb', 'Pulling fs layer'));
    out.text = '';
    p.handle(layer('aaa', 'Downloading', 5, 10));
    expect(out.text).toBe(`\x1b[2A\r\x1b[2Kaaa: Downloading ${progressBar(5, 10)}\r\x1b[2B`);
  });

  it('draws Docker-like bars', () => {
    expect(progressBar(0, 100)).toBe(`[>${' '.repeat(49)}]       0B/100B`);
    expect(progressBar(50, 100)).toBe(`[${'='.repeat(25)}>${' '.repeat(24)}]      50B/100B`);
    expect(progressBar(100, 100)).toBe(`[${'='.repeat(50)}]     100B/100B`);
  });
});
