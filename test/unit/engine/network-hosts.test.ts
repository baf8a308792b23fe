// The peers block of a hosts file: replaced, never duplicated, the rest kept.
import { describe, expect, it } from 'vitest';
import { PEERS_MARK, withPeersBlock } from '../../../src/engine/network-hosts.js';

const base = '127.0.0.1\tlocalhost\n10.89.0.2\tweb\n';

describe('withPeersBlock', () => {
  it('appends the peers after the file\'s own lines', () => {
    const out = withPeersBlock(base, [{ ip: '10.89.0.3', names: ['client', 'abc123', 'client'] }]);
    expect(out).toBe(`${base}${PEERS_MARK}\n10.89.0.3\tclient abc123\n`);
  });

  it('replaces an earlier block and drops it when no peer is left', () => {
    const once = withPeersBlock(base, [{ ip: '10.89.0.3', names: ['a'] }]);
    const twice = withPeersBlock(once, [{ ip: '10.89.0.4', names: ['b'] }]);
    expect(twice).toBe(`${base}${PEERS_MARK}\n10.89.0.4\tb\n`);
    expect(withPeersBlock(twice, [])).toBe(base);
  });

  it('skips peers without names and copes with a file lacking its last newline', () => {
    expect(withPeersBlock('127.0.0.1\tlocalhost', [{ ip: '10.89.0.5', names: [] }])).toBe('127.0.0.1\tlocalhost\n');
  });
});
