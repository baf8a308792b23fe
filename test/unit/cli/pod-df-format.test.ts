// pod ps and system df take Go templates as the other list verbs do: Podman's pod fields, Docker's df fields.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { stdout } from '../../../src/cli/stdout.js';
import { POD_PS_HEADERS, POD_PS_TYPE, podRow } from '../../../src/cli/docker/commands/pod-ps.js';
import { DF_HEADERS, DF_TYPE, diskUsageRow } from '../../../src/cli/docker/commands/system-df.js';
import { printFormatted } from '../../../src/cli/docker/list-format.js';
import type { PodView } from '../../../src/engine/pods.js';

const now = Date.parse('2026-11-24T02:00:00Z');
const pod = {
  record: {
    id: 'f'.repeat(64), name: 'shop', created: '2026-11-24T01:00:00Z', cgroupParent: '/tsrun/pods/fff', labels: { team: 'a' },
    share: ['ipc', 'net', 'uts'], networkMode: 'bridge', networks: ['bridge', 'front'],
  },
  status: 'Running',
  members: [
    { record: { id: 'a'.repeat(64), name: 'web' }, state: { status: 'running' } },
    { record: { id: 'b'.repeat(64), name: 'idle' }, state: { status: 'exited' } },
  ],
} as unknown as PodView;

describe('pod ps --format', () => {
  afterEach(() => vi.restoreAllMocks());
  const print = (format: string) => {
    const write = vi.spyOn(stdout, 'write').mockImplementation(() => true);
    try {
      printFormatted(format, [podRow(pod, now, (s) => s.slice(0, 12))], POD_PS_HEADERS, POD_PS_TYPE, ['Label']);
      return write.mock.calls.map((c) => String(c[0])).join('');
    } finally {
      write.mockRestore();
    }
  };

  it("prints Podman's fields, with headers under table", () => {
    expect(print('{{.Id}} {{.Name}} {{.Status}} {{.NumberOfContainers}} {{.Networks}} {{.Labels}} {{.Label "team"}} {{.Created}}')).toBe(
      'ffffffffffff shop Running 2 tsrun,front map[team:a] a About an hour ago\n',
    );
    expect(print('{{.ContainerNames}}|{{.ContainerStatuses}}|{{.Cgroup}}|{{.InfraId}}|')).toBe('web,idle|running,exited|/tsrun/pods/fff||\n');
    expect(print('table {{.Id}}\\t{{.Name}}\\t{{.InfraId}}\\t{{.NumberOfContainers}}')).toBe(
      'POD ID         NAME   INFRA ID   # OF CONTAINERS\nffffffffffff   shop              2\n',
    );
  });

  it('fails on an unknown field naming Podman\'s type', () => {
    expect(() => print('{{.Nope}}')).toThrow("can't evaluate field Nope in type pods.ListPodReporter");
  });
});

describe('system df --format', () => {
  const rows = [
    diskUsageRow({ Type: 'Images', TotalCount: 3, Active: 1, Size: 4_000_000, Reclaimable: 1_000_000 }),
    diskUsageRow({ Type: 'Build Cache', TotalCount: 0, Active: 0, Size: 0, Reclaimable: 0 }),
  ];
  const print = (format: string) => {
    const write = vi.spyOn(stdout, 'write').mockImplementation(() => true);
    try {
      printFormatted(format, rows, DF_HEADERS, DF_TYPE);
      return write.mock.calls.map((c) => String(c[0])).join('');
    } finally {
      write.mockRestore();
    }
  };

  it("prints Docker's fields, headers under table, and json", () => {
    expect(print('{{.Type}}: {{.TotalCount}}/{{.Active}} {{.Size}} {{.Reclaimable}}')).toBe('Images: 3/1 4MB 1MB (25%)\nBuild Cache: 0/0 0B 0B\n');
    expect(print('table {{.Type}}\\t{{.TotalCount}}\\t{{.Reclaimable}}')).toBe(
      'TYPE          TOTAL   RECLAIMABLE\nImages        3       1MB (25%)\nBuild Cache   0       0B\n',
    );
    expect(print('json').split('\n')[0]).toBe('{"Active":1,"Reclaimable":"1MB (25%)","Size":"4MB","TotalCount":3,"Type":"Images"}');
    expect(() => print('table {{.Type}} {{.Nope}}')).toThrow("can't evaluate field Nope in type *formatter.diskUsageImagesContext");
  });
});
