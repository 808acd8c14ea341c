import { type Digest, parseDigest } from './digest.js';
import { OciImageError } from './errors.js';

// Grammar of distribution/reference (docker's reference package).
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const host = `(?:${domainComponent}(?:\\.${domainComponent})*|${ipv6})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const name = `(?:${domainAndPort}/)?${remoteName}`;
const referenceGrammar = new RegExp(`^(${name})(?::(${tag}))?(?:@(${digest}))?$`);
const domainGrammar = new RegExp(`^${domainAndPort}$`);
const tagGrammar = new RegExp(`^${tag}$`);
const anchoredHexIdentifier = /^[a-f0-9]{64}$/;

/** Docker Hub's canonical domain. */
export const defaultDomain = 'docker.io';
const legacyDefaultDomain = 'index.docker.io';
const officialRepositoryPrefix = 'library/';
/** The longest repository name (domain and path) docker accepts. */
export const nameTotalLengthMax = 255;

/** A parsed, normalised image reference `domain/path[:tag][@digest]`. */
export class Reference {
  readonly domain: string;
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: Digest | undefined;

  constructor(domain: string, path: string, tag: string | undefined, digest: Digest | undefined) {
    this.domain = domain;
    this.path = path;
    this.tag = tag;
    this.digest = digest;
  }

  /** The repository name with its domain, e.g. `docker.io/library/busybox`. */
  get name(): string {
    return `${this.domain}/${this.path}`;
  }

  /** The short form docker prints: `busybox`, `user/app`, `localhost:5000/x`. */
  get familiarName(): string {
    if (this.domain !== defaultDomain) return this.name;
    const path = this.path;
    if (
      path.startsWith(officialRepositoryPrefix) &&
      !path.slice(officialRepositoryPrefix.length).includes('/')
    ) {
      return path.slice(officialRepositoryPrefix.length);
    }
    return path;
  }

  /** The familiar form with tag and digest, e.g. `busybox:latest`. */
  get familiar(): string {
    return this.#suffixed(this.familiarName);
  }

  /** The fully qualified form, e.g. `docker.io/library/busybox:latest`. */
  toString(): string {
    return this.#suffixed(this.name);
  }

  /** This reference with another tag (the digest is dropped). */
  withTag(newTag: string): Reference {
    if (!tagGrammar.test(newTag)) {
      throw new OciImageError('INVALID_REFERENCE', `reference tag ${JSON.stringify(newTag)} is not valid`, {
        path: newTag,
      });
    }
    return new Reference(this.domain, this.path, newTag, undefined);
  }

  /** This reference pinned to a digest (the tag is kept). */
  withDigest(newDigest: Digest): Reference {
    return new Reference(this.domain, this.path, this.tag, parseDigest(newDigest));
  }

  #suffixed(base: string): string {
    let out = base;
    if (this.tag !== undefined) out += `:${this.tag}`;
    if (this.digest !== undefined) out += `@${this.digest}`;
    return out;
  }
}

/** Options of {@link parseReference}. */
export interface ParseReferenceOptions {
  /** Add the `latest` tag when neither tag nor digest is given (default true, like docker). */
  defaultTag?: boolean;
}

function fail(input: string, why: string, cause?: unknown): never {
  throw new OciImageError('INVALID_REFERENCE', `parse reference ${JSON.stringify(input)}: ${why}`, {
    path: input,
    cause,
  });
}

/**
 * Parses and normalises `name[:tag][@digest]` like docker's `ParseNormalizedNamed` + `TagNameOnly`:
 * `busybox` -> `docker.io/library/busybox:latest`. A first component with `.` or `:`, or `localhost`,
 * (or with upper case) is a domain. Throws `INVALID_REFERENCE` for an empty, malformed, upper-case,
 * too long (> 255) or 64-hex-only name, a bad tag, or a digest that is not valid sha256/sha512.
 */
export function parseReference(input: string, options: ParseReferenceOptions = {}): Reference {
  if (typeof input !== 'string' || input === '')
    fail(String(input), 'repository name must have at least one component');
  if (anchoredHexIdentifier.test(input)) {
    fail(input, 'cannot specify 64-byte hexadecimal strings as a repository name');
  }
  // split the domain off the way docker's splitDockerDomain does
  let domain: string;
  let remainder: string;
  const slash = input.indexOf('/');
  const first = slash === -1 ? '' : input.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = defaultDomain;
    remainder = input;
  } else {
    domain = first;
    remainder = input.slice(slash + 1);
  }
  if (domain === legacyDefaultDomain) domain = defaultDomain;
  if (domain === defaultDomain && !remainder.includes('/')) remainder = officialRepositoryPrefix + remainder;
  const remoteOnly = remainder.split(/[:@]/)[0] ?? '';
  if (remoteOnly.toLowerCase() !== remoteOnly) fail(input, 'repository name must be lowercase');

  const full = `${domain}/${remainder}`;
  const match = referenceGrammar.exec(full);
  if (!match) {
    if (referenceGrammar.test(full.toLowerCase())) fail(input, 'repository name must be lowercase');
    fail(input, 'invalid reference format');
  }
  const fullName = match[1] ?? '';
  if (fullName.length > nameTotalLengthMax) {
    fail(input, `repository name must not be more than ${nameTotalLengthMax} characters`);
  }
  const nameSlash = fullName.indexOf('/');
  const parsedDomain = fullName.slice(0, nameSlash);
  if (!domainGrammar.test(parsedDomain)) fail(input, 'invalid domain');
  let parsedDigest: Digest | undefined;
  if (match[3] !== undefined) {
    try {
      parsedDigest = parseDigest(match[3]);
    } catch (error) {
      fail(input, (error as Error).message, error);
    }
  }
  let parsedTag = match[2];
  if (parsedTag === undefined && parsedDigest === undefined && options.defaultTag !== false)
    parsedTag = 'latest';
  return new Reference(parsedDomain, fullName.slice(nameSlash + 1), parsedTag, parsedDigest);
}

/** True when `value` is a valid tag (`[\w][\w.-]{0,127}`). */
export function isValidTag(value: string): boolean {
  return tagGrammar.test(value);
}
