// The init binary `--init` mounts as PID 1 (Docker's docker-init): a static
// tini or catatonit from the host, since it must run inside any image.
import { existsSync } from 'node:fs';
import { SpecError } from '../errors.js';

const CANDIDATES = ['/usr/bin/tini-static', '/usr/local/bin/tini-static', '/usr/libexec/podman/catatonit', '/usr/bin/catatonit'];

export function findInit(): string {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new SpecError(`--init needs a static init binary: none of ${CANDIDATES.join(', ')} exists`, { hint: 'apt-get install tini' });
  return found;
}
