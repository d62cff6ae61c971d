import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { parseConfig } from '../../packages/engine/src/config/load.ts';
import { configSchema } from '../../packages/engine/src/config/schema.ts';
import { isEngineError } from '../../packages/engine/src/errors.ts';
import { mutatedRecord, oddValue } from './inputs.ts';

// Config validation (packages/engine/src/config): whatever a config file holds, parsing returns a
// config or throws the one clean error, WEBDAT_ERR_CONFIG, whose message names a key. Servers alike
// but for name and hosts are validated once (config/load.ts): a config is accepted exactly when the
// schema accepts it, with the same values.

const limits = fc.record({
  timeoutMs: fc.integer({ min: -5, max: 700_000 }), memoryMb: fc.integer({ min: 0, max: 20_000 }),
  maxBodyBytes: fc.integer(), maxMessageBytes: fc.integer(), maxQueue: fc.integer(), maxConnections: fc.integer(),
}, { requiredKeys: [] });
const server = fc.record({
  name: fc.oneof(fc.constantFrom('a', 'b', 'alpha', 'c', 'd'), fc.string({ maxLength: 70 })),
  active: fc.boolean(),
  host: fc.constantFrom('127.0.0.1', '0.0.0.0', '::1', '', 'localhost'),
  port: fc.oneof(fc.constantFrom(0, 9980, 9981, 65535, 65536, -1), fc.double()),
  secure: fc.boolean(),
  privateKey: fc.string({ maxLength: 8 }), certificate: fc.string({ maxLength: 8 }), password: fc.string({ maxLength: 8 }),
  callbacks: fc.string({ maxLength: 8 }),
  hosts: fc.array(fc.oneof(fc.constantFrom('a.test', '*.b.test', 'A.TEST'), fc.string({ maxLength: 8 })), { maxLength: 3 }),
  instances: fc.integer({ min: -1, max: 70 }),
  limits: fc.oneof(limits, mutatedRecord(limits)),
}, { requiredKeys: ['name'] });
const config = fc.record({
  servers: fc.array(fc.oneof({ weight: 3, arbitrary: server as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: mutatedRecord(server) as fc.Arbitrary<unknown> }), { maxLength: 4 }),
  workers: fc.integer({ min: -1, max: 70 }),
  admin: fc.record({ port: fc.integer({ min: -1, max: 70_000 }), host: fc.constantFrom('127.0.0.1', '0.0.0.0', '::1', 'example.test'), token: fc.string({ maxLength: 20 }) }, { requiredKeys: [] }),
}, { requiredKeys: ['servers'] });
const input = fc.oneof(
  { weight: 4, arbitrary: config as fc.Arbitrary<unknown> },
  { weight: 2, arbitrary: mutatedRecord(config) as fc.Arbitrary<unknown> },
  { weight: 1, arbitrary: oddValue },
  // JSON round trip: what a config file can actually hold.
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown) },
);

export function fuzzConfig(runs: number, seed: number): number {
  fc.assert(fc.property(input, (value) => {
    const schema = configSchema.safeParse(value);
    try {
      const parsed = parseConfig(value, '/srv/webdat', 'fuzzed config');
      if (!schema.success) throw new Error('accepted a config the schema refuses');
      schema.data.servers.forEach((s, i) => {
        const p = parsed.servers[i];
        const same = p.name === s.name && isDeepStrictEqual(p.hosts, s.hosts) && 'hosts' in p === 'hosts' in s && isDeepStrictEqual(p.limits, s.limits)
          && p.port === s.port && p.host === s.host && p.instances === s.instances && p.active === s.active && p.secure === s.secure;
        if (!same) throw new Error(`servers[${i}] parsed as ${JSON.stringify(p)}, the schema gives ${JSON.stringify(s)}`);
      });
    } catch (err) {
      if (!isEngineError(err)) throw err;
      if (err.code !== 'WEBDAT_ERR_CONFIG') throw new Error(`threw something other than WEBDAT_ERR_CONFIG: ${(err as Error)?.stack ?? String(err)}`);
      if (!/^fuzzed config is invalid:\n\S/.test(err.message)) throw new Error(`an error message that names no key: ${err.message}`);
      // Only a CA file the schema cannot see (it is read from disk) refuses what the schema accepts.
      if (schema.success && !err.message.includes('caFile')) throw new Error(`refused a config the schema accepts: ${err.message}`);
    }
  }), { numRuns: runs, seed, endOnFailure: true });
  return runs;
}
