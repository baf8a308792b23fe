// Registry authentication: WWW-Authenticate challenges, the Bearer token flow
// of the distribution spec (GET with Basic credentials, or the OAuth2 POST
// with an identity token), and a cache of tokens per (registry, scope).

export interface Challenge {
  scheme: string; // lowercased: 'bearer', 'basic'
  params: Record<string, string>;
}

/**
 * Parse a WWW-Authenticate header: `Bearer realm="https://auth/token",service="reg",scope="repository:a:pull,push"`.
 * Quoted values may contain commas; several challenges may follow each other.
 */
export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  const text = Array.isArray(header) ? header.join(', ') : (header ?? '');
  const out: Challenge[] = [];
  const isTokenChar = (c: string) => /[A-Za-z0-9!#$%&'*+.^_`|~-]/.test(c);
  let cur: Challenge | undefined;
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < text.length && chars.test(text[i]!)) i++;
  };
  while (i < text.length) {
    skip(/[\s,]/);
    const start = i;
    while (i < text.length && isTokenChar(text[i]!)) i++;
    const word = text.slice(start, i);
    if (word === '') {
      i++; // a character that belongs nowhere: skip it
      continue;
    }
    skip(/\s/);
    if (text[i] !== '=') {
      cur = { scheme: word.toLowerCase(), params: {} };
      out.push(cur);
      continue;
    }
    i++;
    skip(/\s/);
    let value = '';
    if (text[i] === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) value += text[i] === '\\' ? text[++i] ?? '' : text[i];
      i++;
    } else {
      const vs = i;
      while (i < text.length && text[i] !== ',' && !/\s/.test(text[i]!)) i++;
      value = text.slice(vs, i);
    }
    if (cur) cur.params[word.toLowerCase()] = value;
  }
  return out;
}

export interface TokenResponse {
  token: string;
  expiresInSec: number;
}

/** Default token lifetime when the server does not say (distribution spec: 60 s). */
export const DEFAULT_TOKEN_LIFETIME_SEC = 60;

export function parseTokenResponse(body: Buffer): TokenResponse | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const d = doc as { token?: unknown; access_token?: unknown; expires_in?: unknown };
  const token = typeof d.token === 'string' && d.token ? d.token : typeof d.access_token === 'string' ? d.access_token : '';
  if (!token) return undefined;
  const exp = typeof d.expires_in === 'number' && d.expires_in > 0 ? d.expires_in : DEFAULT_TOKEN_LIFETIME_SEC;
  return { token, expiresInSec: exp };
}

/** The token URL for a Bearer challenge and the scopes we need. */
export function tokenUrl(challenge: Challenge, scopes: string[], account?: string): URL {
  const realm = challenge.params.realm;
  if (!realm) throw new Error('Bearer challenge without realm');
  const url = new URL(realm);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  for (const s of scopes) url.searchParams.append('scope', s);
  if (account) url.searchParams.set('account', account);
  return url;
}

/** The client_id sent with OAuth2 token requests (any meaningful name; nothing registers it). */
export const OAUTH_CLIENT_ID = 'tsrun';

/**
 * The OAuth2 refresh-token grant of the distribution spec's token server
 * (spec/auth/oauth.md): POST to the realm, form-encoded, with the scopes as
 * one space-separated `scope`. Docker's client sends the same when config.json
 * holds an "identitytoken". Servers without OAuth2 answer the POST with 404;
 * the caller then falls back to the GET flow of tokenUrl().
 */
export function oauthRefreshRequest(challenge: Challenge, scopes: string[], refreshToken: string, clientId = OAUTH_CLIENT_ID): { url: URL; body: string } {
  const realm = challenge.params.realm;
  if (!realm) throw new Error('Bearer challenge without realm');
  const form = new URLSearchParams();
  form.set('grant_type', 'refresh_token');
  form.set('refresh_token', refreshToken);
  if (challenge.params.service) form.set('service', challenge.params.service);
  form.set('client_id', clientId);
  if (scopes.length > 0) form.set('scope', scopes.join(' '));
  return { url: new URL(realm), body: form.toString() };
}

/** "invalid_grant: the token was revoked" from an RFC 6749 error body, or a distribution error's message; '' if neither. */
export function oauthErrorText(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { error?: unknown; error_description?: unknown; errors?: { message?: unknown }[] };
    if (typeof doc?.error === 'string') return typeof doc.error_description === 'string' && doc.error_description ? `${doc.error}: ${doc.error_description}` : doc.error;
    const m = Array.isArray(doc?.errors) ? doc.errors[0]?.message : undefined;
    return typeof m === 'string' ? m : '';
  } catch {
    return '';
  }
}

export function pullScope(repositoryPath: string): string {
  return `repository:${repositoryPath}:pull`;
}

/** Tokens per (registry host, scope), dropped a little before they expire. */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  get(host: string, scope: string): string | undefined {
    const key = `${host} ${scope}`;
    const t = this.tokens.get(key);
    if (!t) return undefined;
    if (t.expiresAt <= this.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return t.token;
  }

  set(host: string, scope: string, token: string, expiresInSec: number): void {
    // Keep a safety margin (10%, at most 30 s) so a token never expires in flight.
    const lifeMs = expiresInSec * 1000;
    this.tokens.set(`${host} ${scope}`, { token, expiresAt: this.now() + lifeMs - Math.min(30_000, lifeMs / 10) });
  }

  delete(host: string, scope: string): void {
    this.tokens.delete(`${host} ${scope}`);
  }
}

export function basicAuthorization(username: string, secret: string): string {
  return `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;
}
