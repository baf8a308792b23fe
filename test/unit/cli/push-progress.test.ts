import { describe, expect, it } from 'vitest';
import { progressBar } from '../../../src/cli/docker/pull-progress.js';
import { PushProgress } from '../../../src/cli/docker/push-progress.js';
import type { PushEvent } from '../../../src/engine/push.js';

function sink() {
  const out = { text: '', write(s: string) { out.text += s; return true; } };
  return out;
}

const start: PushEvent = { type: 'start', input: '127.0.0.1:5000/app', repository: '127.0.0.1:5000/app', tags: ['latest'], defaultTag: true };
const layer = (id: string, status: Extract<PushEvent, { type: 'layer' }>['status'], extra: Partial<Extract<PushEvent, { type: 'layer' }>> = {}): PushEvent => ({ type: 'layer', id, status, ...extra });
const done = (tag: string): PushEvent => ({ type: 'done', tag, digest: 'sha256:x', size: 527, reference: `127.0.0.1:5000/app:${tag}` });

describe('PushProgress', () => {
  it('prints what docker push prints, one line per state change, when not on a terminal', () => {
    const out = sink();
    const p = new PushProgress(out as never, false);
    for (const e of [
      start, { type: 'tag', tag: 'latest' } as PushEvent,
      layer('aaa', 'Preparing'), layer('bbb', 'Preparing'), layer('ccc', 'Preparing'), layer('ccc', 'Waiting'),
      layer('aaa', 'Pushing', { current: 1, total: 10 }), layer('aaa', 'Pushing', { current: 5, total: 10 }), layer('aaa', 'Pushed'),
      layer('bbb', 'Mounted from', { from: 'library/busybox' }), layer('ccc', 'Layer already exists'), done('latest'),
    ]) p.handle(e);
    expect(out.text).toBe([
      'Using default tag: latest', 'The push refers to repository [127.0.0.1:5000/app]',
      'aaa: Preparing', 'bbb: Preparing', 'ccc: Preparing', 'ccc: Waiting', 'aaa: Pushing', 'aaa: Pushed',
      'bbb: Mounted from library/busybox', 'ccc: Layer already exists', 'latest: digest: sha256:x size: 527', '',
    ].join('\n'));
  });

  it('lists the layers afresh for every tag', () => {
    const out = sink();
    const p = new PushProgress(out as never, false);
    for (const e of [
      { ...start, defaultTag: false, tags: ['v1', 'v2'] } as PushEvent,
      { type: 'tag', tag: 'v1' } as PushEvent, layer('aaa', 'Preparing'), layer('aaa', 'Pushed'), done('v1'),
      { type: 'tag', tag: 'v2' } as PushEvent, layer('aaa', 'Preparing'), layer('aaa', 'Layer already exists'), done('v2'),
    ]) p.handle(e);
    expect(out.text.split('\n')).toEqual([
      'The push refers to repository [127.0.0.1:5000/app]', 'aaa: Preparing', 'aaa: Pushed', 'v1: digest: sha256:x size: 527',
      'aaa: Preparing', 'aaa: Layer already exists', 'v2: digest: sha256:x size: 527', '',
    ]);
  });

  it('redraws a layer line in place with a bar on a terminal', () => {
    const out = sink();
    const p = new PushProgress(out as never, true);
    p.handle(layer('aaa', 'Preparing'));
    p.handle(layer('bbb', 'Preparing'));
    out.text = '';
    p.handle(layer('aaa', 'Pushing', { current: 5, total: 10 }));
    expect(out.text).toBe(`\x1b[2A\r\x1b[2Kaaa: Pushing ${progressBar(5, 10)}\r\x1b[2B`);
    out.text = '';
    p.handle(layer('bbb', 'Retrying', { retryInSeconds: 1 }));
    expect(out.text).toBe('\x1b[1A\r\x1b[2Kbbb: Retrying in 1 second\r\x1b[1B');
  });
});
