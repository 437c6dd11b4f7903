// A TCP proxy in front of the server that records every byte clients send it: proof of what
// the server received (and did not).

import type { Socket, TCPSocketListener } from 'bun';

interface Pipe {
  upstream?: Socket<undefined>;
  pending: Uint8Array[];
  /** Text of an unfinished line, when lines are being filtered. */
  partial: string;
  /** Client bytes held back (see `releaseWhen`). */
  held: Uint8Array[];
}

export class RecordingProxy {
  /** Everything any client sent towards the server, decoded as UTF-8. */
  toServer = '';
  private readonly listener: TCPSocketListener<Pipe>;

  /**
   * `drop`: client lines matching it are recorded but not passed on (e.g. acks, to force redelivery).
   * `holdWhile`: client bytes are held back while it returns true for everything the client has
   * sent so far, then passed on in one piece (a network that bunches lines together).
   * `listenPort`: the port to listen on (0: any), e.g. the port of a proxy stopped before.
   */
  constructor(targetPort: number, drop?: (line: string) => boolean, holdWhile?: (sent: string) => boolean, listenPort = 0) {
    this.listener = Bun.listen<Pipe>({
      hostname: '127.0.0.1',
      port: listenPort,
      socket: {
        open: (client) => {
          client.data = { pending: [], partial: '', held: [] };
          Bun.connect({
            hostname: '127.0.0.1',
            port: targetPort,
            socket: {
              data: (_s, chunk) => void client.write(chunk),
              close: () => void client.end(),
              error: () => void client.end(),
            },
          }).then((upstream) => {
            client.data.upstream = upstream;
            for (const chunk of client.data.pending.splice(0)) upstream.write(chunk);
          }, () => client.end());
        },
        data: (client, chunk) => {
          const text = Buffer.from(chunk).toString('utf8');
          this.toServer += text;
          let copy: Uint8Array = chunk.slice();
          if (drop) {
            const lines = (client.data.partial + text).split('\n');
            client.data.partial = lines.pop() ?? '';
            const kept = lines.filter((line) => !drop(line));
            copy = Buffer.from(kept.map((line) => `${line}\n`).join(''));
          }
          if (holdWhile?.(this.toServer)) {
            client.data.held.push(copy);
            return;
          }
          if (client.data.held.length > 0) copy = Buffer.concat([...client.data.held.splice(0), copy]);
          if (client.data.upstream) client.data.upstream.write(copy);
          else client.data.pending.push(copy);
        },
        close: (client) => void client.data.upstream?.end(),
        error: () => {},
      },
    });
  }

  get port(): number {
    return this.listener.port;
  }

  /** Lines clients sent that start with `prefix` (after an optional #tag). */
  linesStartingWith(prefix: string): string[] {
    return this.toServer.split('\n').filter((l) => l.replace(/^#\S+ /, '').startsWith(prefix));
  }

  stop(): void {
    this.listener.stop(true);
  }
}
