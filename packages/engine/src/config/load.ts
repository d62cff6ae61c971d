import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { caFileProblem } from '@webdat/sandbox';
import { EngineError } from '../errors.js';
import { configSchema, serverSchema, type AdminConfig, type EngineConfig, type EngineConfigInput, type ServerConfig, type ServerInput } from './schema.js';

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

/** Validates a whole config; relative paths are resolved against `base` (the config file's folder). */
export function parseConfig(input: unknown, base: string, source = 'config'): EngineConfig {
  const r = configSchema.safeParse(input);
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
