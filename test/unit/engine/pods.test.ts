// Pod records, names and state rules (pure logic and a temp-dir store; no namespaces).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPodMemberFlags } from '../../../src/engine/pod-join.js';
import { PodStore, type PodRecord } from '../../../src/engine/pod-store.js';
import { parsePodExitPolicy, parsePodNetwork, parsePodShare, podStatus } from '../../../src/engine/pods.js';
import { ConflictError, NotFoundError, UsageError } from '../../../src/errors.js';

describe('podStatus (Podman rules)', () => {
  it('is Created without members or when none has run', () => {
    expect(podStatus([])).toBe('Created');
    expect(podStatus(['created', 'created'])).toBe('Created');
  });
  it('is Running only when every member runs', () => {
    expect(podStatus(['running'])).toBe('Running');
    expect(podStatus(['running', 'running'])).toBe('Running');
  });
  it('is Degraded when some but not all run', () => {
    expect(podStatus(['running', 'exited'])).toBe('Degraded');
    expect(podStatus(['created', 'running'])).toBe('Degraded');
  });
  it('is Exited when none runs and one has exited', () => {
    expect(podStatus(['exited', 'exited'])).toBe('Exited');
    expect(podStatus(['exited', 'created'])).toBe('Exited');
  });
});

describe('pod create options', () => {
  it('--share defaults to ipc,net,uts and keeps that order', () => {
    expect(parsePodShare(undefined)).toEqual(['ipc', 'net', 'uts']);
    expect(parsePodShare('uts,net')).toEqual(['net', 'uts']);
    expect(parsePodShare(' net , net ')).toEqual(['net']);
    expect(parsePodShare('none')).toEqual([]);
    expect(parsePodShare('')).toEqual([]);
  });
  it('--share refuses pid and cgroup with the reason, and unknown names', () => {
    expect(() => parsePodShare('net,pid')).toThrow(/pid.*init/);
    expect(() => parsePodShare('cgroup')).toThrow(UsageError);
    expect(() => parsePodShare('net,mnt')).toThrow(/invalid --share "mnt"/);
  });
  it('--network and --exit-policy accept only the known values', () => {
    expect(parsePodNetwork(undefined)).toBe('bridge');
    expect(parsePodNetwork('none')).toBe('none');
    expect(parsePodNetwork('host')).toBe('host');
    expect(() => parsePodNetwork('container:x')).toThrow(/invalid --network "container:x"/);
    expect(parsePodExitPolicy(undefined)).toBe('continue');
    expect(parsePodExitPolicy('stop')).toBe('stop');
    expect(() => parsePodExitPolicy('halt')).toThrow(/invalid --exit-policy "halt"/);
  });
});

function pod(over: Partial<PodRecord> = {}): PodRecord {
  const id = over.id ?? PodStore.newId();
  return {
    id,
    name: 'p',
    created: new Date().toISOString(),
    hostname: 'p',
    share: ['ipc', 'net', 'uts'],
    networkMode: 'bridge',
    ports: [],
    labels: {},
    exitPolicy: 'continue',
    cgroupParent: `/tsrun/pods/${id}`,
    ...over,
  };
}

describe('flags a pod member may not set', () => {
  it('refuses -p, -P, --network, --hostname, --uts, --ipc and --cgroup-parent with Podman wording', () => {
    const p = pod({ name: 'web' });
    expect(() => checkPodMemberFlags(p, { publish: ['80:80'] })).toThrow(/published or exposed ports must be defined when the pod is created/);
    expect(() => checkPodMemberFlags(p, { publishAll: true })).toThrow(/ports must be defined when the pod is created/);
    expect(() => checkPodMemberFlags(p, { network: 'host' })).toThrow(/networks must be defined when the pod is created/);
    expect(() => checkPodMemberFlags(p, { hostname: 'x' })).toThrow(/cannot set the hostname/);
    expect(() => checkPodMemberFlags(p, { uts: 'host' })).toThrow(/UTS namespace/);
    expect(() => checkPodMemberFlags(p, { ipc: 'host' })).toThrow(/IPC namespace/);
    expect(() => checkPodMemberFlags(p, { cgroupParent: '/x' })).toThrow(/cgroup-parent/);
  });
  it('allows what the pod does not share, and empty flag values', () => {
    const p = pod({ share: ['ipc'] });
    expect(() => checkPodMemberFlags(p, { publish: ['80:80'], network: 'none', hostname: 'x' })).not.toThrow();
    expect(() => checkPodMemberFlags(pod(), { publish: [], publishAll: undefined, rm: true })).not.toThrow();
  });
});

describe('PodStore', () => {
  let base: string;
  let store: PodStore;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'tsrun-pods-'));
    store = new PodStore({ root: join(base, 'root'), runroot: join(base, 'run') });
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  function create(name: string): PodRecord {
    const r = pod({ name });
    store.claimName(name, r.id);
    store.beginCreate(r);
    store.commitCreate(r);
    return r;
  }

  it('a pod appears only once committed, but exists (for repair) while being created', () => {
    const r = pod({ name: 'half' });
    store.claimName('half', r.id);
    store.beginCreate(r);
    expect(store.exists(r.id)).toBe(true);
    expect(store.list()).toEqual([]);
    expect(store.creatingIds()).toEqual([r.id]);
    store.commitCreate(r);
    expect(store.list().map((p) => p.id)).toEqual([r.id]);
    expect(store.creatingIds()).toEqual([]);
  });

  it('looks pods up by name, full id and unique prefix; refuses ambiguous and unknown ones', () => {
    const a = create('alpha');
    expect(store.lookup('alpha').id).toBe(a.id);
    expect(store.lookup(a.id).name).toBe('alpha');
    expect(store.lookup(a.id.slice(0, 5)).id).toBe(a.id);
    expect(() => store.lookup('nope')).toThrow(NotFoundError);
    expect(() => store.lookup('nope')).toThrow(/no such pod: nope/);
    // Another id with the same first character makes that character an ambiguous prefix.
    const b = pod({ id: a.id[0] + (a.id[1] === '0' ? '1' : '0') + a.id.slice(2), name: 'beta' });
    store.claimName('beta', b.id);
    store.beginCreate(b);
    store.commitCreate(b);
    expect(() => store.lookup(a.id.slice(0, 1))).toThrow(ConflictError);
  });

  it('refuses a name in use and invalid names; a name whose pod vanished is free again', () => {
    const a = create('taken');
    expect(() => store.claimName('taken', PodStore.newId())).toThrow(/pod name "taken" is already in use/);
    expect(() => store.claimName('bad name', PodStore.newId())).toThrow(/invalid pod name/);
    store.remove(a);
    expect(existsSync(join(store.dir, a.id))).toBe(false);
    expect(() => store.claimName('taken', PodStore.newId())).not.toThrow();
  });

  it('abortCreate drops the temp dir and the name', () => {
    const r = pod({ name: 'gone' });
    store.claimName('gone', r.id);
    store.beginCreate(r);
    store.abortCreate(r);
    expect(store.exists(r.id)).toBe(false);
    expect(readdirSync(join(store.dir, 'names'))).toEqual([]);
  });

  it('repair removes half-created and half-removed dirs and names of vanished pods, and keeps live ones', () => {
    const live = create('live');
    const half = pod({ name: 'half' });
    store.claimName('half', half.id);
    store.beginCreate(half);
    mkdirSync(join(store.dir, `.removing-${PodStore.newId()}`));
    symlinkSync(PodStore.newId(), join(store.dir, 'names', 'dangling'));
    const lock = store.tryRepairLock();
    expect(lock).toBeDefined();
    try {
      expect(store.repairLocked()).toEqual([half.id]);
    } finally {
      lock!.release();
    }
    expect(readdirSync(store.dir).filter((n) => n.startsWith('.') && n !== '.create.lock')).toEqual([]);
    expect(readdirSync(join(store.dir, 'names'))).toEqual(['live']);
    expect(store.lookup('live').id).toBe(live.id);
  });

  it('repair waits for creators: no exclusive lock while a creation lease is held', async () => {
    const lease = await store.creationLease();
    try {
      expect(store.tryRepairLock()).toBeUndefined();
    } finally {
      lease.release();
    }
    const lock = store.tryRepairLock();
    expect(lock).toBeDefined();
    lock!.release();
  });
});
