import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { formatPortMapping, parseExposed, parsePortMappings, parsePortSpec } from '../../../src/network/ports.js';

const tcp = (hostPort: number, containerPort: number, hostIp = '') => ({ hostIp, hostPort, containerPort, protocol: 'tcp' as const });

describe('parsePortSpec', () => {
  it('accepts the Docker forms', () => {
    expect(parsePortSpec('8080:80')).toEqual([tcp(8080, 80)]);
    expect(parsePortSpec('80')).toEqual([tcp(0, 80)]);
    expect(parsePortSpec('127.0.0.1:8080:80')).toEqual([tcp(8080, 80, '127.0.0.1')]);
    expect(parsePortSpec('127.0.0.1::80')).toEqual([tcp(0, 80, '127.0.0.1')]);
    expect(parsePortSpec('0.0.0.0:8080:80')).toEqual([tcp(8080, 80)]);
    expect(parsePortSpec('5353:53/udp')).toEqual([{ hostIp: '', hostPort: 5353, containerPort: 53, protocol: 'udp' }]);
    expect(parsePortSpec('8080:80/TCP')).toEqual([tcp(8080, 80)]);
  });

  it('expands ranges one to one', () => {
    expect(parsePortSpec('8000-8002:9000-9002')).toEqual([tcp(8000, 9000), tcp(8001, 9001), tcp(8002, 9002)]);
    expect(parsePortSpec('9000-9001')).toEqual([tcp(0, 9000), tcp(0, 9001)]);
    expect(parsePortSpec('8000-8010:80')).toEqual([{ ...tcp(8000, 80), hostPortEnd: 8010 }]);
  });

  it('refuses bad values, naming them', () => {
    expect(() => parsePortSpec('8080:80/sctp')).toThrow(/unsupported protocol "sctp"/);
    expect(() => parsePortSpec('70000:80')).toThrow(/host port 70000.*1-65535/);
    expect(() => parsePortSpec('8080:0')).toThrow(/container port 0/);
    expect(() => parsePortSpec('abc:80')).toThrow(/invalid host port "abc"/);
    expect(() => parsePortSpec('1.2.3:8080:80')).toThrow(/invalid host IP "1.2.3"/);
    expect(() => parsePortSpec('[::1]:8080:80')).toThrow(/IPv6/);
    expect(() => parsePortSpec('8000-8001:80-82')).toThrow(/host range has 2 ports but container range has 3/);
    expect(() => parsePortSpec('8002-8000:80')).toThrow(/end before start/);
    expect(() => parsePortSpec('a:b:c:d')).toThrow(UsageError);
    expect(() => parsePortSpec('')).toThrow(UsageError);
  });
});

describe('parsePortMappings', () => {
  it('adds exposed ports for -P unless already published', () => {
    const m = parsePortMappings(['8080:80'], ['80/tcp', '53/udp', '443'], true);
    expect(m).toEqual([tcp(8080, 80), { hostIp: '', hostPort: 0, containerPort: 53, protocol: 'udp' }, tcp(0, 443)]);
    expect(parsePortMappings([], ['80/tcp'], false)).toEqual([]);
  });

  it('refuses a host port published twice', () => {
    expect(() => parsePortMappings(['8080:80', '8080:81'])).toThrow(/host port 8080\/tcp is published twice/);
    expect(() => parsePortMappings(['127.0.0.1:8080:80', '8080:81'])).toThrow(/published twice/);
    expect(parsePortMappings(['127.0.0.1:8080:80', '127.0.0.2:8080:81'])).toHaveLength(2);
    expect(parsePortMappings(['8080:80', '8080:80/udp'])).toHaveLength(2);
  });

  it('parses exposed specs and formats mappings', () => {
    expect(parseExposed('8000-8001/udp')).toEqual([{ port: 8000, protocol: 'udp' }, { port: 8001, protocol: 'udp' }]);
    expect(formatPortMapping(tcp(8080, 80))).toBe('0.0.0.0:8080->80/tcp');
    expect(formatPortMapping(tcp(8080, 80, '127.0.0.1'))).toBe('127.0.0.1:8080->80/tcp');
  });
});
