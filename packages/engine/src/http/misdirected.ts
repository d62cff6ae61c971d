import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { hostName } from '../net/host-router.js';
import { writeStatus } from './write-response.js';
import { bareEvent } from '../in-flight.js';

/** No server on this port claims the Host header, and the port has no default server. */
export function misdirected(res: HttpResponse, req: HttpRequest): void {
  const p = { ...bareEvent(0), res };
  if (hostName(req.getHeader('host')) === null) writeStatus(p, '400 Bad Request', 'bad-request', 'Missing or invalid Host header.\n', true);
  else writeStatus(p, '421 Misdirected Request', 'unknown-host', 'No server here answers for this host name.\n', false);
}
