import { z } from 'zod';
import { allowListProblem } from '@webdat/sandbox';
import { isLoopbackHost } from '../admin/loopback.js';
import { MAX_PROCESSES } from './processes.js';

// The only way configuration gets in: CLI flags and config files both end up parsed by this schema,
// with the defaults of SPEC §3 and §5 beside each key.

const MiB = 1024 * 1024;

export const limitsSchema = z.strictObject({
  timeoutMs: z.number().int().positive().max(600_000).default(100),
  memoryMb: z.number().int().min(8).max(16_384).default(128),
  maxBodyBytes: z.number().int().nonnegative().max(1024 * MiB).default(16 * MiB),
  maxMessageBytes: z.number().int().positive().max(1024 * MiB).default(16 * MiB),
  maxQueue: z.number().int().positive().default(1024),
  maxConnections: z.number().int().positive().default(10_000),
  // What a tenant makes the engine do (SPEC §5): output per invocation, headers per response, logs per second.
  maxOutputBytes: z.number().int().positive().max(1024 * MiB).default(MiB),
  maxHeaders: z.number().int().positive().max(10_000).default(100),
  maxHeaderBytes: z.number().int().positive().max(16 * MiB).default(64 * 1024),
  logLinesPerSecond: z.number().int().positive().default(1000),
  logBytesPerSecond: z.number().int().positive().default(256 * 1024),
  // capabilities (SPEC §5, §8–§10)
  cpuMs: z.number().int().positive().max(60_000).optional(),
  maxTimers: z.number().int().positive().max(1_000_000).default(1000),
  storageMb: z.number().int().positive().max(1024 * 1024).default(64),
  maxFetches: z.number().int().positive().max(10_000).default(16),
  maxFetchBytes: z.number().int().positive().max(1024 * MiB).default(16 * MiB),
  // SPEC §12: the isolate exists from the server's first event until it has been idle this long (default: always)
  idleSeconds: z.number().positive().max(31_536_000).optional(),
}).transform((l) => ({ ...l, cpuMs: l.cpuMs ?? Math.min(l.timeoutMs, 1000) }));

/** An egress entry: a host name, `*.suffix`, or `host:port`, parsed as the fetcher will parse it. */
const egressEntry = z.string().superRefine((entry, ctx) => {
  const problem = allowListProblem([entry]);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
});

export const egressSchema = z.strictObject({
  allow: z.array(egressEntry).default([]),
  caFile: z.string().min(1).optional(),
});

const hostName = z.string().min(1).regex(/^[A-Za-z0-9.*-]+$/, 'must be a host name');

export const serverNameSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'must use only letters, digits, "_", "." and "-"');
export const serverHostsSchema = z.array(hostName).min(1).optional();

export const serverSchema = z.strictObject({
  name: serverNameSchema,
  active: z.boolean().default(true),
  host: z.string().min(1).default('0.0.0.0'),
  port: z.number().int().min(0).max(65535).default(9980),
  secure: z.boolean().default(false),
  privateKey: z.string().min(1).optional(),
  certificate: z.string().min(1).optional(),
  password: z.string().optional(),
  callbacks: z.string().min(1).optional(),
  hosts: serverHostsSchema,
  instances: z.number().int().min(1).max(64).default(1),
  limits: limitsSchema.default(limitsSchema.parse({})),
  egress: egressSchema.default({ allow: [] }),
}).superRefine((s, ctx) => {
  if (s.secure && s.privateKey === undefined) ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'is required when secure is true' });
  if (s.secure && s.certificate === undefined) ctx.addIssue({ code: 'custom', path: ['certificate'], message: 'is required when secure is true' });
});

export const ADMIN_ROLES = ['read', 'operator'] as const;

// A token travels as `Authorization: Bearer <token>`, so only visible ASCII can ever match.
const adminToken = z.string().min(16, 'must be at least 16 characters').regex(/^[!-~]+$/, 'must be visible ASCII without spaces (it travels in an Authorization header)');

export const adminTokenSchema = z.strictObject({
  name: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'must use only letters, digits, "_", "." and "-"'),
  token: adminToken,
  role: z.enum(ADMIN_ROLES),
});

/**
 * What an admin listener off loopback must have (SPEC §7): a token, and HTTPS unless `insecure` opts
 * out, since plain HTTP would carry the bearer tokens in clear. One problem per missing key.
 */
export function adminExposure(a: { host: string; token?: string; tokens?: unknown[]; secure: boolean; insecure: boolean }): Array<{ key: 'token' | 'secure'; message: string }> {
  if (isLoopbackHost(a.host)) return [];
  const problems: Array<{ key: 'token' | 'secure'; message: string }> = [];
  if (a.token === undefined && a.tokens === undefined) {
    problems.push({ key: 'token', message: `is required when admin.host ("${a.host}") is not a loopback address (or give admin.tokens)` });
  }
  if (!a.secure && !a.insecure) {
    problems.push({ key: 'secure', message: `must be true when admin.host ("${a.host}") is not a loopback address; set admin.insecure: true to serve plain HTTP anyway` });
  }
  return problems;
}

/** The name `admin.token` goes by in audit lines. */
export const LEGACY_TOKEN_NAME = 'admin.token';

export const adminSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(9900),
  host: z.string().min(1).default('127.0.0.1'),
  token: adminToken.optional(),
  tokens: z.array(adminTokenSchema).min(1, 'must list at least one token (or leave tokens out)').optional(),
  secure: z.boolean().default(false),
  privateKey: z.string().min(1).optional(),
  certificate: z.string().min(1).optional(),
  password: z.string().optional(),
  insecure: z.boolean().default(false),
  /** perServer false: one host-wide request-duration histogram instead of one per server (hosts with thousands) */
  metrics: z.strictObject({ perServer: z.boolean().default(true) }).default({ perServer: true }),
}).superRefine((a, ctx) => {
  for (const p of adminExposure(a)) ctx.addIssue({ code: 'custom', path: [p.key], message: p.message });
  if (a.secure && a.privateKey === undefined) ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'is required when admin.secure is true' });
  if (a.secure && a.certificate === undefined) ctx.addIssue({ code: 'custom', path: ['certificate'], message: 'is required when admin.secure is true' });
  const names = new Set<string>(a.token === undefined ? [] : [LEGACY_TOKEN_NAME]);
  const values = new Set<string>(a.token === undefined ? [] : [a.token]);
  a.tokens?.forEach((t, i) => {
    if (names.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tokens', i, 'name'], message: `duplicates the token name "${t.name}"` });
    // Two entries with one secret would make its role ambiguous; the message never repeats the secret.
    if (values.has(t.token)) ctx.addIssue({ code: 'custom', path: ['tokens', i, 'token'], message: 'is the same secret as another admin token' });
    names.add(t.name);
    values.add(t.token);
  });
});

const configShape = {
  servers: z.array(serverSchema).min(1, 'must list at least one server'),
  workers: z.number().int().min(1).max(64).optional(),
  /** engine processes sharing every port (SPEC §12) */
  processes: z.number().int().min(1).max(MAX_PROCESSES).default(1),
  admin: adminSchema.optional(),
  /** where storage lives (SPEC §8); resolved against the config file's folder or the current directory */
  dataDir: z.string().min(1).default('./.webdat-data'),
  /** hosts joined through an existing Redis (SPEC §12) */
  cluster: z.strictObject({
    redis: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL'),
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1 to 64 letters, digits, ".", "_" or "-"'),
  }).optional(),
};

/** What holds between servers: unique names, and what servers sharing a host and port must agree on. */
function checkServers(c: { servers: ServerConfig[] }, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  c.servers.forEach((s, i) => {
    if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['servers', i, 'name'], message: `duplicates the server name "${s.name}"` });
    seen.add(s.name);
  });
  // Servers on one host:port share a listener and are told apart by Host header (port 0 is never shared).
  const byAddress = new Map<string, { index: number; secure: boolean; hasDefault: boolean; names: Set<string> }>();
  c.servers.forEach((s, i) => {
    if (s.port === 0) return;
    const key = `${s.host}:${s.port}`;
    const first = byAddress.get(key);
    if (first === undefined) {
      byAddress.set(key, { index: i, secure: s.secure, hasDefault: s.hosts === undefined, names: new Set(s.hosts?.map((h) => h.toLowerCase())) });
      return;
    }
    if (first.secure !== s.secure) ctx.addIssue({ code: 'custom', path: ['servers', i, 'secure'], message: `must match servers[${first.index}], which shares ${key}` });
    if (s.hosts === undefined) {
      if (first.hasDefault) ctx.addIssue({ code: 'custom', path: ['servers', i, 'hosts'], message: `is required: ${key} is shared and already has a default server (one without hosts)` });
      first.hasDefault = true;
    }
    for (const [j, h] of (s.hosts ?? []).entries()) {
      if (first.names.has(h.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['servers', i, 'hosts', j], message: `"${h}" is already served on ${key}` });
      first.names.add(h.toLowerCase());
    }
  });
}

export const configSchema = z.strictObject(configShape).superRefine(checkServers);

/** The same, for a config whose servers were each parsed by serverSchema already (config/load.ts). */
export const parsedServersConfigSchema = z.strictObject({
  ...configShape,
  servers: z.array(z.custom<ServerConfig>()).min(1, 'must list at least one server'),
}).superRefine(checkServers);

export type LimitsConfig = z.infer<typeof limitsSchema>;
export type ServerConfig = z.infer<typeof serverSchema>;
export type EgressConfig = z.infer<typeof egressSchema>;
export type AdminConfig = z.infer<typeof adminSchema>;
export type AdminRole = (typeof ADMIN_ROLES)[number];
export type EngineConfig = z.infer<typeof configSchema>;
export type ServerInput = z.input<typeof serverSchema>;
export type EngineConfigInput = z.input<typeof configSchema>;
