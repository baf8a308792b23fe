// One base error with a code and a hint; every boundary wraps with { cause }.
// Only src/cli/* turns these into text and an exit code (see cli/exit.ts).

export type ExitKind = 'tsrun' | 'cannot-invoke' | 'not-found';

export interface TsrunErrorOptions {
  cause?: unknown;
  hint?: string;
}

export class TsrunError extends Error {
  /** Stable machine-readable code, e.g. 'INVALID_REFERENCE'. */
  readonly code: string;
  readonly hint: string | undefined;
  /** How the CLI maps it: 125 tsrun, 126 cannot invoke, 127 not found. */
  readonly exitKind: ExitKind = 'tsrun';

  constructor(code: string, message: string, options: TsrunErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

/** Bad command-line usage or option values. */
export class UsageError extends TsrunError {
  constructor(message: string, options?: TsrunErrorOptions) {
    super('USAGE', message, options);
  }
}

/** A --format template that names an unknown field (Docker's "template parsing error"). */
export class TemplateError extends TsrunError {
  constructor(message: string, options?: TsrunErrorOptions) {
    super('TEMPLATE', `template parsing error: ${message}`, options);
  }
}

/** A malformed image reference such as "UPPER/case" or "a:b:c". */
export class InvalidReferenceError extends TsrunError {
  constructor(readonly reference: string, reason: string, options?: TsrunErrorOptions) {
    super('INVALID_REFERENCE', `invalid reference format "${reference}": ${reason}`, options);
  }
}

/** A manifest, index, config or other document that does not follow the spec. */
export class InvalidManifestError extends TsrunError {
  constructor(message: string, options?: TsrunErrorOptions) {
    super('INVALID_MANIFEST', message, options);
  }
}

/** A blob whose digest or size is not the expected one. */
export class DigestMismatchError extends TsrunError {
  constructor(readonly expected: string, readonly actual: string, what = 'content', options?: TsrunErrorOptions) {
    super('DIGEST_MISMATCH', `${what} digest mismatch: expected ${expected}, got ${actual}`, options);
  }
}

/** An error answered by a registry (HTTP status and distribution error code). */
export class RegistryError extends TsrunError {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly registryCode: string | undefined,
    options?: TsrunErrorOptions,
  ) {
    super(registryCode ? `REGISTRY_${registryCode}` : 'REGISTRY', message, options);
  }

  /** Worth retrying: rate limits, server errors and broken connections. */
  temporary(): boolean {
    if (this.status === undefined) return true;
    return this.status === 429 || this.status >= 500;
  }
}

/** Something named by the user does not exist: an image, a container, a pod. */
export class NotFoundError extends TsrunError {
  constructor(readonly kind: string, readonly what: string, options?: TsrunErrorOptions) {
    super('NOT_FOUND', `no such ${kind}: ${what}`, options);
  }
}

/** A name or object that already exists (a container name, a tag). */
export class ConflictError extends TsrunError {
  constructor(message: string, options?: TsrunErrorOptions) {
    super('CONFLICT', message, options);
  }
}

/** A layer entry that would write outside its directory, or another unsafe archive. */
export class UnsafeArchiveError extends TsrunError {
  constructor(readonly entry: string, reason: string, options?: TsrunErrorOptions) {
    super('UNSAFE_ARCHIVE', `refusing layer entry "${entry}": ${reason}`, options);
  }
}

/** A corrupt or unsupported archive (bad tar header, unknown compression). */
export class ArchiveError extends TsrunError {
  constructor(message: string, options?: TsrunErrorOptions) {
    super('ARCHIVE', message, options);
  }
}

/** Failure inside tsrun's store (permissions, disk full, corrupt metadata). */
export class StoreError extends TsrunError {
  constructor(message: string, options?: TsrunErrorOptions) {
    super('STORE', message, options);
  }
}

/** A container could not be created or started; `step` names the failing step of the plan. */
export class LaunchError extends TsrunError {
  constructor(message: string, readonly step?: string, options?: TsrunErrorOptions) {
    super('LAUNCH', message, options);
  }
}

/** The container's command exists but cannot be executed (EACCES, EISDIR...): exit 126. */
export class CannotInvokeError extends TsrunError {
  override readonly exitKind = 'cannot-invoke' as const;
  constructor(message: string, options?: TsrunErrorOptions) {
    super('CANNOT_INVOKE', message, options);
  }
}

/** The container's command does not exist: exit 127. */
export class CommandNotFoundError extends TsrunError {
  override readonly exitKind = 'not-found' as const;
  constructor(message: string, options?: TsrunErrorOptions) {
    super('COMMAND_NOT_FOUND', message, options);
  }
}

/** A container or pod in the wrong state for the request (not running, already running...). */
export class StateError extends TsrunError {
  constructor(message: string, options?: TsrunErrorOptions) {
    super('STATE', message, options);
  }
}

/** Render an error and its chain of causes as one line each: "msg: cause: cause". */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    const msg = cur instanceof Error ? cur.message : String(cur);
    if (msg && !parts.some((p) => p.includes(msg))) parts.push(msg);
    cur = cur instanceof Error ? (cur as Error & { cause?: unknown }).cause : undefined;
  }
  return parts.join(': ');
}

/**
 * A registry that could not be reached or that broke the connection. `errno`
 * names the cause (ECONNREFUSED, ENOTFOUND, ECONNRESET, ETIMEDOUT, a TLS code);
 * refused, unresolvable and TLS-rejected hosts are not worth retrying.
 */
export class RegistryUnreachableError extends RegistryError {
  constructor(message: string, readonly errno: string | undefined, options?: TsrunErrorOptions) {
    super(message, undefined, undefined, options);
  }

  override temporary(): boolean {
    return this.errno === undefined || ['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'TRUNCATED'].includes(this.errno);
  }
}

/** Registry credentials that cannot be read or stored (config.json, a credential helper). */
export class CredentialsError extends TsrunError {
  constructor(message: string, options?: TsrunErrorOptions) {
    super('CREDENTIALS', message, options);
  }
}

/** A cgroup could not be created, configured or cleaned up; `controller` names the one at fault when known. */
export class CgroupError extends TsrunError {
  constructor(message: string, readonly controller?: string, options?: TsrunErrorOptions) {
    super('CGROUP', message, options);
  }
}

/** The container's configuration cannot be built from the image and its files (unknown user or group, unreadable /etc/passwd). */
export class SpecError extends TsrunError {
  constructor(message: string, options?: TsrunErrorOptions) {
    super('SPEC', message, options);
  }
}

/** A network namespace, bridge, veth, address lease or firewall rule could not be set up or removed; `step` names the failing step. */
export class NetworkError extends TsrunError {
  constructor(message: string, readonly step?: string, options?: TsrunErrorOptions) {
    super('NETWORK', message, options);
  }
}
