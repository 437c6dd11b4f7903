// One connection to Redis that never throws anything but a typed error and never hangs. Bun's client
// queues commands while disconnected and gives up reconnecting after a while; here we connect
// ourselves (on the next call), send nothing while disconnected, and bound every call with a deadline.
// Every caller must still catch: an unhandled rejection ends a Bun process.

import { RedisClient } from 'bun';

/** Redis could not be reached, dropped the connection, or did not answer in time: try again later. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly code = 'REDIS_UNAVAILABLE';
  constructor(what: string, options?: { cause: unknown }) {
    super(`Redis is unavailable: ${what}`, options);
  }
}

export interface RedisLinkOptions {
  /** Deadline of one call (and of connecting), unless the call says otherwise. */
  timeoutMs?: number;
  /** Told when Redis becomes reachable (true) or unreachable (false), once per change. */
  onState?: (up: boolean, why: string) => void;
}

/** A Lua script, sent by its SHA1 and loaded again when Redis says it does not know it (after a restart). */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = new Bun.CryptoHasher('sha1').update(source).digest('hex');
  }
}

export class RedisLink {
  private readonly client: RedisClient;
  private connecting: Promise<void> | undefined;
  private up: boolean | undefined;
  private closed = false;
  readonly timeoutMs: number;

  constructor(
    readonly url: string,
    private readonly options: RedisLinkOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.client = new RedisClient(url, {
      autoReconnect: false,
      enableOfflineQueue: false,
      connectionTimeout: this.timeoutMs,
      enableAutoPipelining: true,
    });
    this.client.onconnect = () => this.setState(true, 'connected');
    this.client.onclose = (error) => this.setState(false, error?.message ?? 'connection closed');
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Sends one command; rejects with RedisUnavailableError on any connection trouble or after the deadline. */
  async call<T = unknown>(command: string, args: readonly (string | number)[], timeoutMs = this.timeoutMs): Promise<T> {
    if (this.closed) throw new RedisUnavailableError('the link is closed');
    await this.connect();
    return this.deadline(
      this.client.send(command, args.map(String)).catch((error: unknown) => {
        throw isConnectionError(error) ? new RedisUnavailableError(`${command} failed (${errorText(error)})`, { cause: error }) : error;
      }),
      timeoutMs,
      `no answer to ${command} in ${timeoutMs} ms`,
    );
  }

  /** Runs a script by its SHA1 (EVALSHA), loading it with EVAL when Redis does not have it. */
  async eval<T = unknown>(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<T> {
    const tail = [keys.length, ...keys, ...args];
    try {
      return await this.call<T>('EVALSHA', [script.sha, ...tail]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.call<T>('EVAL', [script.source, ...tail]);
    }
  }

  close(): void {
    this.closed = true;
    this.client.close();
  }

  private async connect(): Promise<void> {
    if (this.client.connected) return;
    this.connecting ??= this.deadline(
      this.client.connect().catch((error: unknown) => {
        throw new RedisUnavailableError(`cannot connect to ${this.url} (${errorText(error)})`, { cause: error });
      }),
      this.timeoutMs,
      `cannot connect to ${this.url} in ${this.timeoutMs} ms`,
    ).finally(() => {
      this.connecting = undefined;
    });
    await this.connecting;
  }

  private deadline<T>(work: Promise<T>, ms: number, why: string): Promise<T> {
    let timer: Timer | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisUnavailableError(why)), ms);
    });
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }

  private setState(up: boolean, why: string): void {
    if (this.up === up || this.closed) return;
    this.up = up;
    try {
      this.options.onState?.(up, why);
    } catch {
      // A listener's mistake must not break the link.
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Errors that are about the connection, not about the command (which a server error reply is). */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_REDIS_SERVER_ERROR') {
    // A restarting or read-only-after-failover Redis answers these: the command may succeed later.
    return /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|READONLY)\b/.test(errorText(error));
  }
  return typeof code === 'string' && /^(ERR_REDIS_(CONNECTION|IDLE|TIMEOUT|SOCKET)|E(CONN|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH))/.test(code);
}
