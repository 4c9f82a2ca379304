/**
 * Real nats-server processes for tests: each on a free port of 127.0.0.1 with JetStream and a throwaway store
 * directory, so a test can stop, kill and restart its own server. Tests skip (saying why) only when no nats-server
 * is installed; CI installs Debian's.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The nats-server binary, or `undefined` when none is installed. */
export const NATS_SERVER: string | undefined = ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(
  (bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0,
);

export const SKIP_REASON = 'nats-server is not installed (apt-get install nats-server): the NATS tests need a real server';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * The server CI starts (`CAREGAPS_NATS_URL`, see .ci/run) for tests that need no faults, else one of the test's own.
 * Returns the URL and how to let it go.
 */
export async function sharedServer(): Promise<{ url: string; dispose(): Promise<void> }> {
  const url = process.env.CAREGAPS_NATS_URL;
  if (url) return { url, dispose: async () => undefined };
  const own = await NatsServer.start();
  return { url: own.url, dispose: () => own.dispose() };
}

export class NatsServer {
  private child: ChildProcess | undefined;
  readonly url: string;

  private constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
  }

  static async start(): Promise<NatsServer> {
    const server = new NatsServer(await freePort(), mkdtempSync(join(tmpdir(), 'caregaps-nats-')));
    await server.run();
    return server;
  }

  /** Starts the server process (again, after `stop` or `kill`) on the same port and store. */
  async run(): Promise<void> {
    this.child = spawn(NATS_SERVER!, ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], { stdio: 'ignore' });
    const deadline = Date.now() + 15_000;
    while (!(await reachable(this.port))) {
      if (Date.now() > deadline) throw new Error(`nats-server did not start on port ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the server the hard way (kill -9). */
  async kill(): Promise<void> {
    await this.end('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.end('SIGTERM');
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
