// rkt's --insecure-options: the security checks one command skips. The values
// add up over repeated flags and comma lists; aliases stand for several.
// What each means for tsrun:
// - image, pubkey, ondisk: nothing. tsrun verifies no image signatures and keeps
//   no on-disk checks to skip; the values are accepted so rkt's commands work.
// - tls, http: the registry client's per-command transport settings
//   (registry/hosts.ts): no certificate verification; plain HTTP allowed.
// - capabilities, paths, seccomp: the apps' containers get what `tsrun run`
//   gives for --cap-add ALL, --security-opt systempaths=unconfined and
//   --security-opt seccomp=unconfined.
import { UsageError } from '../../errors.js';
import type { RegistryClientOptions } from '../../registry/client.js';

export type InsecureOption = 'image' | 'tls' | 'ondisk' | 'http' | 'pubkey' | 'capabilities' | 'paths' | 'seccomp';
/** The options that change how an app's container is isolated (kept with a prepared pod). */
export type InsecureRunOption = Extract<InsecureOption, 'capabilities' | 'paths' | 'seccomp'>;
export type InsecureOptions = ReadonlySet<InsecureOption>;

const RUN_OPTIONS: readonly InsecureRunOption[] = ['capabilities', 'paths', 'seccomp'];
const FETCH_OPTIONS: readonly InsecureOption[] = ['image', 'tls', 'ondisk', 'http', 'pubkey'];

/** Every value the flag takes, in rkt's order, with what it stands for. */
const VALUES: ReadonlyMap<string, readonly InsecureOption[]> = new Map<string, readonly InsecureOption[]>([
  ['none', []],
  ['image', ['image']],
  ['tls', ['tls']],
  ['ondisk', ['ondisk']],
  ['http', ['http']],
  ['pubkey', ['pubkey']],
  ['capabilities', ['capabilities']],
  ['paths', ['paths']],
  ['seccomp', ['seccomp']],
  ['run', RUN_OPTIONS],
  ['all-fetch', FETCH_OPTIONS],
  ['all-run', RUN_OPTIONS],
  ['all', [...FETCH_OPTIONS, ...RUN_OPTIONS]],
]);

export const INSECURE_OPTION_VALUES: readonly string[] = [...VALUES.keys()];

/**
 * The options of every --insecure-options value given (each "A,B,..."), added up.
 * An unknown value is a UsageError naming it and the valid ones.
 */
export function parseInsecureOptions(values: readonly string[]): Set<InsecureOption> {
  const out = new Set<InsecureOption>();
  for (const value of values) {
    for (const item of value.split(',')) {
      const options = VALUES.get(item.trim());
      if (!options) {
        throw new UsageError(`invalid value "${item}" for --insecure-options: use a comma-separated list of ${INSECURE_OPTION_VALUES.join(', ')}`);
      }
      for (const o of options) out.add(o);
    }
  }
  return out;
}

/** The registry client's settings for a command's fetches: tls and http apply to every registry it talks to. */
export function registryOptionsFor(options: InsecureOptions): RegistryClientOptions {
  const skipTlsVerify = options.has('tls');
  const allowHttp = options.has('http');
  return skipTlsVerify || allowHttp ? { insecure: { skipTlsVerify, allowHttp } } : {};
}

/** The isolation the apps of a pod give up, in a stable order (stored with the prepared pod). */
export function insecureRunOptions(options: InsecureOptions): InsecureRunOption[] {
  return RUN_OPTIONS.filter((o) => options.has(o));
}

/** tsrun's container flags for them: the same ones `tsrun run` takes, so the engine applies them as it does there. */
export function containerFlagsFor(run: readonly InsecureRunOption[]): { capAdd?: string[]; securityOpt?: string[] } {
  const securityOpt: string[] = [];
  if (run.includes('paths')) securityOpt.push('systempaths=unconfined');
  if (run.includes('seccomp')) securityOpt.push('seccomp=unconfined');
  return {
    ...(run.includes('capabilities') ? { capAdd: ['ALL'] } : {}),
    ...(securityOpt.length > 0 ? { securityOpt } : {}),
  };
}
