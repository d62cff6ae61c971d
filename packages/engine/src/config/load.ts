import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { caFileProblem } from '@webdat/sandbox';
import { EngineError } from '../errors.js';
import {
  configSchema, parsedServersConfigSchema, serverHostsSchema, serverNameSchema, serverSchema,
  type AdminConfig, type EngineConfig, type EngineConfigInput, type ServerConfig, type ServerInput,
} from './schema.js';

export const DEFAULT_CALLBACKS = fileURLToPath(new URL('../../callbacks/default.js', import.meta.url));

function keyPath(p: readonly PropertyKey[]): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s === '' ? String(k) : `.${String(k)}`;
  return s || '(root)';
}

/** One line per problem, each naming the key path: `servers[1].limits.timeoutMs: ...`. */
export function formatIssues(err: z.ZodError, prefix = ''): string {
  return err.issues.map((i) => `${prefix}${keyPath(i.path)}: ${i.message}`).join('\n');
}

function absolute(base: string, p: string | undefined): string | undefined {
  return p === undefined ? undefined : path.resolve(base, p);
}

function resolvePaths(s: ServerConfig, base: string): ServerConfig {
  return {
    ...s, callbacks: absolute(base, s.callbacks) ?? DEFAULT_CALLBACKS, privateKey: absolute(base, s.privateKey), certificate: absolute(base, s.certificate),
    egress: s.egress.caFile === undefined ? { allow: s.egress.allow } : { allow: s.egress.allow, caFile: absolute(base, s.egress.caFile) },
  };
}

function resolveAdminPaths(a: AdminConfig, base: string): AdminConfig {
  return { ...a, privateKey: absolute(base, a.privateKey), certificate: absolute(base, a.certificate) };
}

/** Marks a value JSON would not tell apart from another (undefined, a function, a Date…): no key for it. */
const UNKEYABLE = new Error('unkeyable');

/**
 * What a server is besides its name and hosts, as a string: equal strings parse to equal configs.
 * null for input JSON cannot show faithfully (then the server is parsed on its own).
 */
function sameAs(rest: Record<string, unknown>): string | null {
  try {
    return JSON.stringify(rest, function (this: Record<string, unknown>, key, value: unknown) {
      const raw = this[key];
      if (raw === null || typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return value;
      if (typeof raw === 'object' && (Array.isArray(raw) || Object.getPrototypeOf(raw) === Object.prototype)) return value;
      throw UNKEYABLE;
    });
  } catch (err) {
    if (err === UNKEYABLE) return null;
    throw err;
  }
}

/**
 * Ten thousand servers of a host mostly differ in name and hosts only (zod spent about half a
 * second of a 3 s start on them): each distinct rest is parsed once, and the others only have their name and hosts
 * checked. null when a server is invalid: the whole config is then parsed again for the messages.
 */
function parseServers(input: unknown): ServerConfig[] | null {
  if (!Array.isArray(input)) return null;
  const parsed = new Map<string, ServerConfig>();
  const servers: ServerConfig[] = [];
  for (const s of input as unknown[]) {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return null;
    const { name, hosts, ...rest } = s as Record<string, unknown>;
    const key = sameAs(rest);
    const known = key === null ? undefined : parsed.get(key);
    if (known === undefined) {
      const r = serverSchema.safeParse(s);
      if (!r.success) return null;
      if (key !== null) parsed.set(key, r.data);
      servers.push(r.data);
      continue;
    }
    const n = serverNameSchema.safeParse(name);
    const h = serverHostsSchema.safeParse(hosts);
    if (!n.success || !h.success) return null;
    const server = { ...known, name: n.data, hosts: h.data };
    if (h.data === undefined) delete server.hosts;
    servers.push(server);
  }
  return servers;
}

function validate(input: unknown): ReturnType<typeof configSchema.safeParse> {
  const servers = typeof input === 'object' && input !== null ? parseServers((input as { servers?: unknown }).servers) : null;
  if (servers !== null) {
    const r = parsedServersConfigSchema.safeParse({ ...(input as object), servers });
    if (r.success) return r;
  }
  return configSchema.safeParse(input);
}

/** Validates a whole config; relative paths are resolved against `base` (the config file's folder). */
export function parseConfig(input: unknown, base: string, source = 'config'): EngineConfig {
  const r = validate(input);
  if (!r.success) throw new EngineError('WEBDAT_ERR_CONFIG', `${source} is invalid:\n${formatIssues(r.error)}`);
  const servers = r.data.servers.map((s) => resolvePaths(s, base));
  const problems = servers.flatMap((s, i) => {
    const p = s.egress.caFile === undefined ? null : caFileProblem(s.egress.caFile);
    return p === null ? [] : [`servers[${i}].egress.caFile: ${p}`];
  });
  if (problems.length > 0) throw new EngineError('WEBDAT_ERR_CONFIG', `${source} is invalid:\n${problems.join('\n')}`);
  return {
    ...r.data,
    dataDir: path.resolve(base, r.data.dataDir),
    servers,
    admin: r.data.admin === undefined ? undefined : resolveAdminPaths(r.data.admin, base),
  };
}

export function parseServer(input: ServerInput, base: string): ServerConfig {
  const r = serverSchema.safeParse(input);
  if (!r.success) throw new EngineError('WEBDAT_ERR_CONFIG', `server config is invalid:\n${formatIssues(r.error)}`);
  const s = resolvePaths(r.data, base);
  const p = s.egress.caFile === undefined ? null : caFileProblem(s.egress.caFile);
  if (p !== null) throw new EngineError('WEBDAT_ERR_CONFIG', `server config is invalid:\negress.caFile: ${p}`);
  return s;
}

export function loadConfigFile(file: string): EngineConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new EngineError('WEBDAT_ERR_CONFIG', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new EngineError('WEBDAT_ERR_CONFIG', `config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(json, path.dirname(path.resolve(file)), `config file ${file}`);
}

export type { EngineConfig, EngineConfigInput, ServerConfig };
