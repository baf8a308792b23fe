// run-prepared's --dns* / --hosts-entry over what prepare was given (dns.ts overrideDnsConfig).
import { describe, expect, it } from 'vitest';
import { emptyDnsFlags, overrideDnsConfig, parseDnsFlags, type RktDnsFlags } from '../../../../src/engine/rkt/dns.js';
import { UsageError } from '../../../../src/errors.js';

const flags = (f: Partial<RktDnsFlags>): RktDnsFlags => ({ ...emptyDnsFlags(), ...f });
const prepared = parseDnsFlags(flags({ dns: ['10.0.0.53'], dnsSearch: ['corp.example'], dnsDomain: 'corp.example', hostsEntries: ['10.0.0.9=db'] }));

describe('overrideDnsConfig', () => {
  it('changes nothing when no flag is given', () => {
    expect(overrideDnsConfig(prepared, emptyDnsFlags())).toBeUndefined();
    expect(overrideDnsConfig(undefined, emptyDnsFlags())).toBeUndefined();
  });

  it('any resolv.conf flag replaces the whole resolv.conf side (domain too); the hosts side stays', () => {
    const out = overrideDnsConfig(prepared, flags({ dnsOpt: ['rotate'] }))!;
    expect(out).toMatchObject({ resolv: 'stage0', nameservers: [], search: [], options: ['rotate'], hosts: 'stage0', hostsEntries: [['10.0.0.9', ['db']]] });
    expect(out.domain).toBeUndefined();
    expect(overrideDnsConfig(prepared, flags({ dns: ['1.1.1.1'], dnsDomain: 'other.example' }))).toMatchObject({ nameservers: ['1.1.1.1'], domain: 'other.example', search: [] });
  });

  it('--hosts-entry replaces the hosts side only', () => {
    const out = overrideDnsConfig(prepared, flags({ hostsEntries: ['10.0.0.7=cache,10.0.0.7=redis'] }))!;
    expect(out).toMatchObject({ resolv: 'stage0', nameservers: ['10.0.0.53'], domain: 'corp.example', hosts: 'stage0', hostsEntries: [['10.0.0.7', ['cache', 'redis']]] });
    expect(overrideDnsConfig(prepared, flags({ hostsEntries: ['host'] }))).toMatchObject({ hosts: 'host', hostsEntries: [], nameservers: ['10.0.0.53'] });
  });

  it('over a pod prepared without DNS flags, and to host or none', () => {
    expect(overrideDnsConfig(undefined, flags({ dns: ['host'] }))).toMatchObject({ resolv: 'host', hosts: 'default', nameservers: [] });
    expect(overrideDnsConfig(prepared, flags({ dns: ['none'] }))).toMatchObject({ resolv: 'none', nameservers: [], search: [], hosts: 'stage0' });
  });

  it("applies rkt's checks to the new flags", () => {
    expect(() => overrideDnsConfig(prepared, flags({ dns: ['host'], dnsSearch: ['x'] }))).toThrow(UsageError);
    expect(() => overrideDnsConfig(prepared, flags({ dns: ['not-an-ip'] }))).toThrow(/invalid IP passed to --dns/);
  });
});
