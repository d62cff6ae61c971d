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

/** PKCS#8 `ENCRYPTED PRIVATE KEY` blocks and legacy PEM blocks with `Proc-Type: 4,ENCRYPTED`. */
function isEncryptedPem(pem: string): boolean {
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type:\s*4,\s*ENCRYPTED/m.test(pem);
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
  } catch {
    // A wrong passphrase passes AES-CBC's padding check about once in 256 and then fails as garbage,
    // so OpenSSL's message cannot tell the two apart: an encrypted key that does not open is a
    // password problem, whatever OpenSSL said.
    const why = isEncryptedPem(keyPem) ? 'wrong password (or the key needs one)' : 'not a valid PEM private key';
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
