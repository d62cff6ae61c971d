import crypto from 'node:crypto';
import fs from 'node:fs';
import { EngineError } from './errors.js';

export interface TlsFiles {
  privateKey: string;
  certificate: string;
  password?: string;
}

function read(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new EngineError('WEBDAT_ERR_TLS', `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

/**
 * Checks key, certificate and passphrase with node:crypto before uWS sees them: uWS only says
 * "App construction failed". Messages name the file and never contain the passphrase.
 */
export function checkTls(t: TlsFiles): void {
  const keyPem = read(t.privateKey, 'private key file');
  const certPem = read(t.certificate, 'certificate file');
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: keyPem, passphrase: t.password ?? '' });
  } catch (err) {
    const msg = (err as Error).message;
    const why = /bad decrypt|passphrase|decrypt/i.test(msg) ? 'wrong password (or the key needs one)' : 'not a valid PEM private key';
    throw new EngineError('WEBDAT_ERR_TLS', `cannot use private key file ${t.privateKey}: ${why}`);
  }
  let cert: crypto.X509Certificate;
  try {
    cert = new crypto.X509Certificate(certPem);
  } catch {
    throw new EngineError('WEBDAT_ERR_TLS', `cannot use certificate file ${t.certificate}: not a valid PEM certificate`);
  }
  if (!cert.checkPrivateKey(key)) {
    throw new EngineError('WEBDAT_ERR_TLS', `private key file ${t.privateKey} does not match certificate file ${t.certificate}`);
  }
}
