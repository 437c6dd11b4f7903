// A client that logs in, then stops reading: a node:net socket, paused. Unlike a Bun.connect socket
// with a no-op `data` handler (Bun still reads from the kernel), a paused node:net socket leaves the
// bytes in the kernel, so its receive window fills and the server's writes come back short.

import net from 'node:net';

export class SlowReader {
  private received = '';
  private closedFlag = false;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedFlag = true;
        resolve();
      });
    });
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('utf8');
    });
  }

  /** Connects, logs in (reading until the welcome), then pauses the socket: nothing more is read. */
  static loginAndStop(port: number, user: string, password: string, ms = 3000): Promise<SlowReader> {
    return SlowReader.connectAndStop(port, user, Buffer.from(`login ${user}\npassword ${password}\n`), ms);
  }

  /**
   * The same over the web client's WebSocket (`webPort`): the upgrade by hand, then the login in two
   * masked text frames (mask key 0), then nothing more is read.
   */
  static loginAndStopWs(webPort: number, user: string, password: string, ms = 3000): Promise<SlowReader> {
    const frame = (text: string) => Buffer.concat([Buffer.from([0x81, 0x80 | Buffer.byteLength(text), 0, 0, 0, 0]), Buffer.from(text)]);
    const upgrade = `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${webPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
    return SlowReader.connectAndStop(webPort, user, Buffer.concat([Buffer.from(upgrade), frame(`login ${user}`), frame(`password ${password}`)]), ms);
  }

  private static async connectAndStop(port: number, user: string, greeting: Buffer, ms: number): Promise<SlowReader> {
    const socket = net.connect(port, '127.0.0.1');
    const reader = new SlowReader(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(greeting);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no welcome for ${user} in ${ms} ms; got ${reader.received}`)), ms);
      const check = () => {
        // Paused in the same tick as the welcome arrives: nothing after it is read.
        if (reader.received.includes('"code":"welcome"')) done(() => socket.pause());
      };
      const onClose = () => fail(new Error(`closed before the welcome for ${user}; got ${reader.received}`));
      const done = (then: () => void) => {
        clearTimeout(timer);
        socket.off('data', check);
        socket.off('close', onClose);
        then();
        resolve();
      };
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.off('data', check);
        socket.off('close', onClose);
        reject(err);
      };
      socket.on('data', check);
      socket.on('close', onClose);
    });
    return reader;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
