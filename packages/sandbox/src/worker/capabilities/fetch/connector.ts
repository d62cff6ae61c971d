import tls from 'node:tls';
import type { buildConnector } from 'undici';
import type { AllowList } from './allow-list.js';
import { resolveChecked, targetOf, type Lookup } from './egress.js';

/**
 * undici's connector with the egress check in front of every new connection: the name is resolved
 * once, every address is checked, and the socket goes to a checked address while TLS still verifies
 * (and SNI names) the host of the URL. Pooled connections are reused only for the origin they were
 * checked for, and the policy of a fetcher never changes, so reuse needs no new check.
 */
export function egressConnector(build: typeof buildConnector, allow: AllowList, ca: string | null, lookup: Lookup): buildConnector.connector {
  const base = build(ca === null ? {} : { ca: [...tls.rootCertificates, ca] });
  return (opts, callback) => {
    const url = new URL(`${opts.protocol}//${opts.host}`);
    const target = targetOf(url);
    resolveChecked(allow, target, lookup).then(
      (addresses) => {
        // A name with several addresses (localhost: ::1 and 127.0.0.1) is tried address by address.
        const attempt = (i: number) => {
          base({ ...opts, hostname: addresses[i].address, host: opts.host }, (err, socket) => {
            if (err !== null && i + 1 < addresses.length && !isTlsError(err)) attempt(i + 1);
            else if (err !== null) callback(err, null);
            else callback(null, socket);
          });
        };
        attempt(0);
      },
      (err: Error) => callback(err, null),
    );
  };
}

function isTlsError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return code.startsWith('ERR_TLS') || code.includes('CERT') || code.includes('SSL');
}
