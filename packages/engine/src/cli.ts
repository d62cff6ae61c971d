import { Command, InvalidArgumentError, Option } from 'commander';
import type { ServeOptions } from './process/serve-options.js';

function integer(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

export function buildCli(): Command {
  const program = new Command('webdat')
    .description('A multi-tenant HTTP + WebSocket server whose behaviour is defined by sandboxed callbacks (a TouchDesigner Web Server DAT).')
    .showHelpAfterError()
    .exitOverride();
  program.command('serve')
    .description('serve one server from a callbacks module, or every server of a config file')
    .option('--callbacks <file>', 'callbacks module (default: the bundled page + WebSocket echo)')
    .option('--config <file>', 'JSON config file listing several servers (multi-tenant)')
    .option('--port <port>', 'listening port; 0 picks a free one (default 9980)', integer(0, 65535))
    .option('--host <host>', 'listening address (default 0.0.0.0)')
    .option('--name <name>', 'server name, used in logs and metrics (default "default")')
    .option('--secure', 'serve HTTPS and WSS')
    .option('--private-key <file>', 'PEM private key for --secure')
    .option('--certificate <file>', 'PEM certificate for --secure')
    .addOption(new Option('--password <pass>', 'passphrase of the private key (prefer the WEBDAT_TLS_PASSWORD environment variable)'))
    .option('--timeout-ms <ms>', 'time limit per callback invocation (default 100)', integer(1, 600_000))
    .option('--memory-mb <mb>', 'isolate heap limit (default 128)', integer(8, 16_384))
    .option('--cpu-ms <ms>', 'CPU per callback invocation, summed over its synchronous stretches (default: the time limit, at most 1000)', integer(1, 60_000))
    .option('--workers <n>', 'worker threads (default: one per server, at most one per CPU)', integer(1, 64))
    .option('--processes <n>', 'engine processes sharing every port (default 1; config key processes)', integer(1, 64))
    .option('--admin-port <port>', 'serve the admin API on 127.0.0.1:<port>', integer(0, 65535))
    .option('--watch', 'reload a callbacks file when it changes')
    .option('--data-dir <dir>', 'folder of the servers\' stored data (default ./.webdat-data, beside the config file)')
    .action(async (opts: ServeOptions) => {
      // Each role loads only its own modules: the supervisor starts before the engine, and the engine's
      // (uWS, isolated-vm, zod) would cost it a few tenths of a second of CPU for nothing.
      const code = process.env.WEBDAT_ROLE === 'engine'
        ? await (await import('./process/engine-main.js')).runEngine(opts)
        : await (await import('./process/supervisor.js')).runSupervisor(process.argv.slice(2), opts);
      if (code !== null) process.exitCode = code;
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildCli();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    process.exitCode = typeof code === 'number' ? (code === 1 ? 2 : code) : 1;
  }
}
