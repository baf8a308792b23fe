// Registry credentials in Docker's config.json ($DOCKER_CONFIG/config.json,
// else ~/.docker/config.json):
//   "auths":       { "<server>": { "auth": base64("user:pass") } or { "username", "password" } }
//                  an entry may also carry "identitytoken": an OAuth2 refresh token (see auth.ts)
//   "credHelpers": { "<server>": "<helper>" }   -> docker-credential-<helper> get|store|erase
//   "credsStore":  "<helper>"                   -> the same, for every server
// Docker Hub's key is "https://index.docker.io/v1/". Other keys are matched by
// host, with or without scheme and path ("https://reg:5000/v2/" == "reg:5000").
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CredentialsError } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';

export interface Credentials {
  username: string;
  secret: string;
  /**
   * An OAuth2 refresh token ("identitytoken" in config.json, or a helper's
   * Secret when its Username is "<token>"). When set, Bearer tokens come from
   * an OAuth2 POST to the realm with grant_type=refresh_token.
   */
  identityToken?: string;
}

/** The Username a credential helper returns when its Secret is an identity token. */
export const IDENTITY_TOKEN_USERNAME = '<token>';

export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';
const HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  [k: string]: unknown;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [k: string]: unknown;
}

export function defaultDockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG || join(homedir(), '.docker');
  return join(dir, 'config.json');
}

/**
 * The registry a server argument names: 'docker.io' for any Docker Hub
 * spelling, else the host[:port] ('https://reg:5000/v2/' -> 'reg:5000').
 */
export function normaliseServer(server: string): string {
  let s = server.trim();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  s = s.replace(/\/.*$/, '');
  s = s.toLowerCase();
  if (s === '') throw new CredentialsError(`invalid registry server "${server}"`);
  return HUB_NAMES.has(s) ? 'docker.io' : s;
}

/** The key Docker writes for a registry in config.json. */
export function configKey(host: string): string {
  const h = normaliseServer(host);
  return h === 'docker.io' ? DOCKER_HUB_CONFIG_KEY : h;
}

function readConfig(path: string): DockerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CredentialsError(`cannot read ${path}`, { cause: err });
  }
  if (text.trim() === '') return {};
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
    return doc as DockerConfig;
  } catch (err) {
    throw new CredentialsError(`${path} is not a valid Docker config (JSON object)`, { cause: err });
  }
}

function writeConfig(path: string, cfg: DockerConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // 0600: the file holds passwords.
  writeFileAtomic(path, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600, durable: true });
}

function findKey<T>(map: Record<string, T> | undefined, host: string): string | undefined {
  if (!map) return undefined;
  const want = normaliseServer(host);
  if (map[configKey(want)] !== undefined) return configKey(want);
  return Object.keys(map).find((k) => {
    try {
      return normaliseServer(k) === want;
    } catch {
      return false;
    }
  });
}

function helperFor(cfg: DockerConfig, host: string): string | undefined {
  const key = findKey(cfg.credHelpers, host);
  if (key !== undefined && cfg.credHelpers![key]) return cfg.credHelpers![key];
  return cfg.credsStore || undefined;
}

/** Run docker-credential-<helper> <action> with `input` on stdin. */
function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<{ code: number; stdout: string }> {
  const bin = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) =>
      reject(new CredentialsError(`cannot run credential helper ${bin}${(err as NodeJS.ErrnoException).code === 'ENOENT' ? ' (not installed or not in PATH)' : ''}`, { cause: err })),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: stdout || stderr }));
    child.stdin.on('error', () => undefined); // the helper may exit before reading
    child.stdin.end(input);
  });
}

function decodeAuth(host: string, entry: AuthEntry): Credentials | undefined {
  let creds: Credentials | undefined;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) throw new CredentialsError(`the "auth" entry for ${host} in the Docker config is not base64("user:password")`);
    creds = { username: text.slice(0, colon), secret: text.slice(colon + 1) };
  } else if (typeof entry.username === 'string' && typeof entry.password === 'string') {
    creds = { username: entry.username, secret: entry.password };
  }
  // "docker login" against an OAuth2 token server stores the refresh token it
  // got as "identitytoken" (next to the user name, with an empty password).
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    creds = { username: creds?.username ?? (typeof entry.username === 'string' ? entry.username : ''), secret: creds?.secret ?? '', identityToken: entry.identitytoken };
  }
  return creds;
}

/** Credentials for a registry host, or undefined when none are stored. */
export async function loadCredentials(host: string, configPath = defaultDockerConfigPath()): Promise<Credentials | undefined> {
  const cfg = readConfig(configPath);
  const helper = helperFor(cfg, host);
  if (helper) {
    const serverUrl = configKey(host);
    const { code, stdout } = await runHelper(helper, 'get', serverUrl);
    if (code !== 0) {
      if (/credentials not found/i.test(stdout)) return undefined;
      throw new CredentialsError(`credential helper docker-credential-${helper} failed for ${serverUrl}: ${stdout.trim()}`);
    }
    try {
      const doc = JSON.parse(stdout) as { Username?: unknown; Secret?: unknown };
      if (typeof doc.Secret !== 'string' || doc.Secret === '') return undefined;
      // Docker's convention: Username "<token>" means the Secret is an identity token.
      if (doc.Username === IDENTITY_TOKEN_USERNAME) return { username: '', secret: '', identityToken: doc.Secret };
      return { username: typeof doc.Username === 'string' ? doc.Username : '', secret: doc.Secret };
    } catch (err) {
      throw new CredentialsError(`credential helper docker-credential-${helper} returned invalid JSON`, { cause: err });
    }
  }
  const key = findKey(cfg.auths, host);
  return key === undefined ? undefined : decodeAuth(host, cfg.auths![key]!);
}

/** Store credentials for `host` (in its helper, else base64 in "auths"), keeping every other key of the file. */
export async function saveCredentials(host: string, username: string, secret: string, configPath = defaultDockerConfigPath()): Promise<void> {
  const cfg = readConfig(configPath);
  const key = configKey(host);
  const helper = helperFor(cfg, host);
  if (helper) {
    const { code, stdout } = await runHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: username, Secret: secret }));
    if (code !== 0) throw new CredentialsError(`credential helper docker-credential-${helper} could not store credentials for ${key}: ${stdout.trim()}`);
    // Docker leaves an empty entry so "docker info"-like tools know a login exists.
    cfg.auths = { ...cfg.auths, [key]: {} };
  } else {
    const auths = { ...cfg.auths };
    const old = findKey(auths, host);
    if (old !== undefined && old !== key) delete auths[old];
    auths[key] = { auth: Buffer.from(`${username}:${secret}`).toString('base64') };
    cfg.auths = auths;
  }
  writeConfig(configPath, cfg);
}

/** Forget credentials for `host`; false when none were stored. */
export async function removeCredentials(host: string, configPath = defaultDockerConfigPath()): Promise<boolean> {
  const cfg = readConfig(configPath);
  const key = findKey(cfg.auths, host);
  const helper = helperFor(cfg, host);
  let removed = false;
  if (helper) {
    const { code, stdout } = await runHelper(helper, 'erase', configKey(host));
    if (code === 0) removed = true;
    else if (!/credentials not found/i.test(stdout)) {
      throw new CredentialsError(`credential helper docker-credential-${helper} could not erase credentials for ${configKey(host)}: ${stdout.trim()}`);
    }
  }
  if (key !== undefined) {
    const auths = { ...cfg.auths };
    delete auths[key];
    cfg.auths = auths;
    removed = true;
    writeConfig(configPath, cfg);
  }
  return removed;
}
