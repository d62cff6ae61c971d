import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { tempDir } from './webdat.ts';

export interface Certs {
  dir: string;
  ca: string;
  /** for a host name: key (encrypted with `password` when given) and certificate signed by the CA */
  issue(name: string, password?: string): { key: string; cert: string };
}

/** A throw-away CA made with the openssl CLI, so TLS tests use real certificates and real clients. */
export function makeCerts(): Certs {
  const dir = tempDir();
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=webdat test CA');
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    issue(name, password) {
      const key = path.join(dir, `${name}.key`);
      const cert = path.join(dir, `${name}.pem`);
      run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.plain.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
      execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:${name},IP:127.0.0.1' > ${name}.ext`], { cwd: dir });
      run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
      if (password === undefined) run('pkey', '-in', `${name}.plain.key`, '-out', `${name}.key`);
      else run('pkey', '-in', `${name}.plain.key`, '-out', `${name}.key`, '-aes256', '-passout', `pass:${password}`);
      return { key, cert };
    },
  };
}
