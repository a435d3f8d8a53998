import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { waitForHttp } from './ports';

export type ServiceName = 'ingress' | 'router' | 'stats' | 'billing';

export const REPO_ROOT = resolve(__dirname, '../../..');

/**
 * One Switchyard service run from its build (`services/<name>/dist/main.js`)
 * as a real child process, so tests can SIGKILL it mid-work and restart it.
 */
export class ServiceProcess {
  private proc: ChildProcess | undefined;
  private output: string[] = [];
  exited = false;
  /** How the last run ended, e.g. `code 1` or `signal SIGKILL`; undefined while it runs. */
  exitedWith: string | undefined;

  constructor(
    readonly name: ServiceName,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  /** The OS process id while running (benchmarks read its CPU time). */
  get pid(): number | undefined {
    return this.exited ? undefined : this.proc?.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    this.exited = false;
    this.exitedWith = undefined;
    const main = resolve(REPO_ROOT, `services/${this.name}/dist/main.js`);
    // Benchmarks pin the measured service to one core (SWITCHYARD_PIN_CPU_<NAME>=1).
    const pin = this.env[`SWITCHYARD_PIN_CPU`];
    // Profiling runs pass node flags (e.g. --cpu-prof) in SWITCHYARD_NODE_ARGS.
    const nodeArgs = [...(this.env.SWITCHYARD_NODE_ARGS?.split(' ').filter(Boolean) ?? []), main];
    const [cmd, args] = pin ? ['taskset', ['-c', pin, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
    const proc = spawn(cmd, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const keep = (b: Buffer) => {
      this.output.push(b.toString());
      if (this.output.length > 400) this.output.splice(0, 200);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    proc.on('exit', (code, signal) => {
      this.exited = true;
      this.exitedWith = signal ? `signal ${signal}` : `code ${code}`;
    });
    try {
      await waitForHttp(`${this.url}/readyz`, timeoutMs, () => !this.exited);
    } catch (e) {
      throw new Error(`${this.name} did not start: ${(e as Error).message}\n--- output ---\n${this.logs()}`);
    }
  }

  logs(): string {
    return this.output.join('');
  }

  /** SIGKILL: no shutdown hooks, no acks — a crash. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: the graceful path. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    if (!p || this.exited) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(sig);
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
  }
}
