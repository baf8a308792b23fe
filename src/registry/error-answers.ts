// Turning a registry's error answer ({"errors":[{code,message,detail}]} or a
// bare status) into a RegistryError whose message says what was not found or
// not allowed, and where.
import { RegistryError } from '../errors.js';

export interface RequestContext {
  /** Registry as the user wrote it: 'docker.io', '127.0.0.1:5000'. */
  registry: string;
  /** Full repository name: 'docker.io/library/ubuntu'. */
  repository?: string;
  /** 'upload': a blob upload session (POST, PATCH, PUT of .../blobs/uploads/). */
  what: 'manifest' | 'blob' | 'upload' | 'ping' | 'token';
  /** Tag or digest asked for. */
  target?: string;
  /** User whose credentials were sent, if any. */
  username?: string;
  /** Part of a push (the messages say "push to" instead of "pull"). */
  push?: boolean;
  /** The 401 carried error="insufficient_scope": authenticated, but not allowed. */
  insufficientScope?: boolean;
}

interface DistributionError {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

export function parseErrorBody(body: Buffer): { code: string; message: string; detail?: unknown } | undefined {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: DistributionError[] };
    const e = Array.isArray(doc?.errors) ? doc.errors[0] : undefined;
    if (e && typeof e.code === 'string') {
      return { code: e.code, message: typeof e.message === 'string' ? e.message : '', detail: e.detail };
    }
  } catch {
    // Not JSON: fall back to the status code.
  }
  return undefined;
}

function codeFromStatus(status: number, ctx: RequestContext): string | undefined {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 429) return 'TOOMANYREQUESTS';
  if (status === 404) {
    if (ctx.what === 'upload') return 'BLOB_UPLOAD_UNKNOWN';
    return ctx.what === 'manifest' ? 'MANIFEST_UNKNOWN' : ctx.what === 'blob' ? 'BLOB_UNKNOWN' : 'NAME_UNKNOWN';
  }
  if (status === 405) return 'UNSUPPORTED';
  return undefined;
}

function targetName(ctx: RequestContext): string {
  const repo = ctx.repository ?? ctx.registry;
  if (!ctx.target) return repo;
  return ctx.target.includes(':') ? `${repo}@${ctx.target}` : `${repo}:${ctx.target}`;
}

export function loginHint(registry: string): string {
  return registry === 'docker.io' ? 'run "tsrun login" if the repository is private' : `run "tsrun login ${registry}" if the registry needs credentials`;
}

export function pushLoginHint(registry: string): string {
  return registry === 'docker.io' ? 'run "tsrun login" first' : `run "tsrun login ${registry}" first`;
}

/** Build the error for a failed response with status `status` and body `body`. */
export function registryError(status: number, body: Buffer, ctx: RequestContext): RegistryError {
  const parsed = parseErrorBody(body);
  const code = parsed?.code ?? codeFromStatus(status, ctx);
  const said = parsed?.message ? ` (registry said: ${parsed.message})` : '';
  const repo = ctx.repository ?? ctx.registry;
  let message: string;
  let hint: string | undefined;
  switch (code) {
    // Docker's wording for the two answers a mistyped image name gets.
    case 'MANIFEST_UNKNOWN':
      message = `manifest for ${targetName(ctx)} not found: manifest unknown`;
      break;
    case 'NAME_UNKNOWN':
      message = `repository ${repo} does not exist or may require 'tsrun login'`;
      break;
    case 'BLOB_UNKNOWN':
      message = `blob unknown: ${ctx.target ?? 'blob'} of ${repo} not found in registry`;
      break;
    case 'UNAUTHORIZED':
      if (ctx.insufficientScope) {
        message = `unauthorized: ${ctx.username ? `user "${ctx.username}"` : 'an anonymous client'} may not ${ctx.push ? 'push to' : 'pull from'} ${repo}${said}`;
        hint = ctx.username ? undefined : ctx.push ? pushLoginHint(ctx.registry) : loginHint(ctx.registry);
      } else if (ctx.username) {
        message = `unauthorized: ${ctx.registry} rejected the credentials of user "${ctx.username}" for ${repo}${said}`;
        hint = `check the password, or run "tsrun login ${ctx.registry}" again`;
      } else if (ctx.push) {
        message = `unauthorized: authentication required to push to ${repo}${said}`;
        hint = pushLoginHint(ctx.registry);
      } else {
        message = `unauthorized: authentication required for ${repo}: the repository does not exist or needs a login${said}`;
        hint = loginHint(ctx.registry);
      }
      break;
    case 'DENIED':
      message = `denied: ${ctx.push ? 'push ' : ''}access to ${repo} is denied${ctx.username ? ` for user "${ctx.username}"` : ''}${said}`;
      hint = ctx.username ? undefined : ctx.push ? pushLoginHint(ctx.registry) : loginHint(ctx.registry);
      break;
    case 'TOOMANYREQUESTS':
      message = `too many requests: ${ctx.registry} is rate-limiting ${ctx.push ? 'pushes' : 'pulls'}${said}`;
      break;
    case 'NAME_INVALID':
      message = `invalid repository name: ${ctx.registry} does not accept the name ${repo}${said}`;
      break;
    case 'BLOB_UPLOAD_INVALID':
      message = `blob upload invalid: ${ctx.registry} refused the upload of ${ctx.target ?? 'a blob'} to ${repo}${said}`;
      break;
    case 'BLOB_UPLOAD_UNKNOWN':
      message = `blob upload unknown: the upload session of ${ctx.target ?? 'a blob'} to ${repo} is gone (expired or cancelled)${said}`;
      break;
    case 'DIGEST_INVALID':
      message = `digest invalid: ${ctx.registry} found that the bytes sent for ${ctx.target ?? 'a blob'} to ${repo} do not match the digest${said}`;
      break;
    case 'MANIFEST_INVALID':
      message = `manifest invalid: ${ctx.registry} refused the manifest of ${targetName(ctx)}${said}`;
      break;
    case 'MANIFEST_BLOB_UNKNOWN':
      message = `manifest blob unknown: the manifest of ${targetName(ctx)} names a blob that ${ctx.registry} does not have${said}`;
      break;
    case 'UNSUPPORTED':
      message = `unsupported: ${ctx.registry} does not support this ${ctx.push ? 'push request' : 'request'} for ${targetName(ctx)}${said}`;
      if (ctx.push) hint = 'the registry may be read-only, or a pull-through cache';
      break;
    case undefined:
      message = `${ctx.registry} answered HTTP ${status} for the ${ctx.what} of ${targetName(ctx)}`;
      break;
    default:
      message = `${code.toLowerCase().replace(/_/g, ' ')}: ${parsed?.message || `HTTP ${status}`} (${targetName(ctx)})`;
  }
  // The detail of the well-known codes repeats what the message says already.
  const selfExplanatory = ['MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'BLOB_UNKNOWN', 'UNAUTHORIZED', 'TOOMANYREQUESTS'];
  if (parsed?.detail !== undefined && !selfExplanatory.includes(code ?? '')) {
    const detail = typeof parsed.detail === 'string' ? parsed.detail : JSON.stringify(parsed.detail);
    if (detail && detail !== '{}' && detail !== 'null' && detail.length < 300) message += ` [detail: ${detail}]`;
  }
  return new RegistryError(message, status, code, hint ? { hint } : undefined);
}
