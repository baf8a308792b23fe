// Image references normalised the way Docker does (distribution/reference):
//   ubuntu                      -> docker.io/library/ubuntu:latest
//   localhost:5000/a/b          -> localhost:5000/a/b:latest
//   name:tag@sha256:<hex>       -> keeps both; the digest is what gets fetched
// Grammar:
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] component ( "/" component )*
//   domain    := host [ ":" port ]        (a first component counts as a domain only
//                                          if it has "." or ":" or is "localhost",
//                                          or has uppercase letters)
//   component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag       := [\w][\w.-]{0,127}
import { InvalidReferenceError } from '../errors.js';
import { isValidDigest } from './digest.js';

export interface Reference {
  readonly domain: string;
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
const MAX_NAME_LENGTH = 255;

const COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`);
const ID_RE = /^[a-f0-9]{64}$/;

export function parseReference(input: string): Reference {
  const fail = (reason: string): never => {
    throw new InvalidReferenceError(input, reason);
  };
  if (typeof input !== 'string' || input.length === 0) fail('the reference is empty');
  if (/\s/.test(input)) fail('it contains whitespace');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isValidDigest(digest)) {
      fail(`"${digest}" is not a valid digest (expected sha256:<64 lowercase hex> or sha512:<128 lowercase hex>)`);
    }
  }

  // A tag is after the last ':' that comes after the last '/' (a ':' before it is a port).
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag.length > 128) fail(`tag "${tag.slice(0, 20)}..." is longer than 128 characters`);
    if (!TAG_RE.test(tag)) {
      fail(tag === '' ? 'the tag after ":" is empty' : `tag "${tag}" may contain only letters, digits, "_", "." and "-" and must not start with "." or "-"`);
    }
  }
  if (rest === '') fail('the repository name is empty');
  if (ID_RE.test(rest) && at < 0 && tag === undefined) {
    fail('a 64-character hexadecimal string is an image ID, not a repository name');
  }

  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!DOMAIN_RE.test(domain)) fail(`"${domain}" is not a valid registry host`);
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;

  if (path === '') fail('the repository path is empty');
  for (const component of path.split('/')) {
    if (component === '') fail('the repository path has an empty component ("//" or a trailing "/")');
    if (component.includes(':')) fail(`"${component}" contains ":" (only one ":tag" is allowed; a port belongs to the registry host)`);
    if (component.toLowerCase() !== component) fail(`repository name must be lowercase ("${component}")`);
    if (!COMPONENT_RE.test(component)) {
      fail(`path component "${component}" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`);
    }
  }
  const nameLength = (domain === DEFAULT_DOMAIN ? 0 : domain.length + 1) + path.length;
  if (nameLength > MAX_NAME_LENGTH) fail(`the repository name is longer than ${MAX_NAME_LENGTH} characters`);

  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  const ref: { domain: string; path: string; tag?: string; digest?: string } = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function suffix(ref: Reference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** 'docker.io/library/ubuntu' */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** 'docker.io/library/ubuntu:latest', 'localhost:5000/a/b@sha256:…' */
export function referenceString(ref: Reference): string {
  return repositoryName(ref) + suffix(ref);
}

/** 'ubuntu', 'user/app', 'localhost:5000/a/b': the short form Docker shows. */
export function familiarRepository(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  return ref.path.startsWith(OFFICIAL_REPO_PREFIX) && ref.path.split('/').length === 2
    ? ref.path.slice(OFFICIAL_REPO_PREFIX.length)
    : ref.path;
}

/** 'ubuntu:latest', 'localhost:5000/a/b:tag' */
export function familiarString(ref: Reference): string {
  return familiarRepository(ref) + suffix(ref);
}

/** What to ask the registry for: the digest when pinned, else the tag. */
export function fetchTarget(ref: Reference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}

/** True when the user typed neither a tag nor a digest (Docker then says "Using default tag: latest"). */
export function namesNoTagOrDigest(input: string): boolean {
  const last = input.slice(input.lastIndexOf('/') + 1);
  return !last.includes(':') && !input.includes('@');
}
