/** The flags of `webdat serve`, as commander parses them. */
export interface ServeOptions {
  callbacks?: string;
  config?: string;
  port?: number;
  host?: string;
  name?: string;
  secure?: boolean;
  privateKey?: string;
  certificate?: string;
  password?: string;
  timeoutMs?: number;
  memoryMb?: number;
  cpuMs?: number;
  workers?: number;
  processes?: number;
  adminPort?: number;
  watch?: boolean;
  dataDir?: string;
}
