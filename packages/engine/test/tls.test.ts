import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkTls } from '../src/tls.ts';

// Fixed keys, so the outcome does not depend on a random salt: with these, some of the wrong
// passwords below pass AES-CBC's padding check (PKCS#8: wrong-611, -710, -778, -863, -1045; legacy:
// wrong-264, -490) and OpenSSL then reports garbage, not a bad decrypt.
const PKCS8 = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhnHVUw41Z38gICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEKHOWdHrEF8mEImZD4KGq8wEgZAJ
VGh1a/Ki/T4u5o67sRnFARh9+0gnRvlUVmq7miRtdPzSzmZD2pZ/PWMa2PIDtknE
MztYrJnh4Tu6HppJljpAITW4YOxaXXhXAr5XnQ5Jsu0fEB4kzPKMJJuzllkE3cZN
zqErKVAjYWnzSLEICHKH9tO66G4tjZVld25kI/nJcT5BSaBJ5lI9gaVpKWqibtw=
-----END ENCRYPTED PRIVATE KEY-----
`;
const LEGACY = `-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-256-CBC,1AEF70618AB70E978D3537FA6CCD97A2

Z5Gl9EMb+WFs0RGEd+nwSJhikZxkHN0hmgW3s4s8NTbwLI1VsfP5TG9Z0xYDBHPj
Wvi1hg8ZMIWWvak3lHOaCeWpTPLOIijDhZf4ayBnLhdERtLQ7r2iP15zGRed8KAD
dTHZ7WKo4wiitHFCYhtNOeEE7olsrCSNdq0+iizGpCQ=
-----END EC PRIVATE KEY-----
`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webdat-tls-unit-'));
const certificate = path.join(dir, 'unused.pem');
fs.writeFileSync(certificate, '');

function keyProblem(pem: string, password: string | undefined): string {
  const privateKey = path.join(dir, 'key.pem');
  fs.writeFileSync(privateKey, pem);
  try {
    checkTls({ privateKey, certificate, password });
  } catch (err) {
    assert.equal((err as { code: string }).code, 'WEBDAT_ERR_TLS');
    return (err as Error).message;
  }
  assert.fail('the key was accepted');
}

for (const [format, pem] of [['PKCS#8', PKCS8], ['legacy Proc-Type', LEGACY]] as const) {
  test(`every wrong password for a ${format} encrypted key is reported as a wrong password`, () => {
    for (let i = 0; i < 1200; i++) assert.match(keyProblem(pem, `wrong-${i}`), /wrong password/, `wrong-${i}`);
    assert.match(keyProblem(pem, undefined), /wrong password \(or the key needs one\)/);
    // The right password opens the key; the empty certificate is what fails next.
    assert.match(keyProblem(pem, 'right-password'), /certificate file .* not a valid PEM certificate/);
  });
}

test('a file that is no key at all is not called a password problem', () => {
  assert.match(keyProblem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 'any'), /not a valid PEM private key/);
  assert.match(keyProblem('hello', undefined), /not a valid PEM private key/);
});
