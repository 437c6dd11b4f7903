// IRC for the load generator: registration (NICK/USER until 001) and reading the parts of a
// PRIVMSG line that the bench needs, by hand (the generator must spend little per line).
// A received line looks like `:u0!~u0@127.0.0.1 PRIVMSG u1 :b 1795243297994123 xxxx` (CR kept).

import type { Client, LineHandler } from './client.ts';

/** Sends NICK and USER and resolves at RPL_WELCOME (001); lines after it go to `after`. */
export function ircRegister(c: Client, after: LineHandler): Promise<void> {
  return new Promise((resolve, reject) => {
    c.onLine = (client, line) => {
      if (answerPing(client, line)) return;
      const code = numeric(line);
      if (code === '001') {
        client.welcomed = true;
        client.onLine = after;
        resolve();
      } else if (code >= '400' && code < '600') {
        reject(new Error(`${client.name}: ${line}`));
      }
    };
    c.send(`NICK ${c.name}\r\nUSER ${c.name} 0 * :${c.name}\r\n`);
  });
}

/** Answers a server PING (returns true if the line was one). */
export function answerPing(c: Client, line: string): boolean {
  if (!line.startsWith('PING ')) return false;
  c.send(`PONG ${line.slice(5).trimEnd()}\r\n`);
  return true;
}

/** The three-digit reply code of `:server 001 nick :text`, or '' for any other line. */
export function numeric(line: string): string {
  const sp = line.indexOf(' ');
  if (!line.startsWith(':') || sp < 0) return '';
  const code = line.slice(sp + 1, sp + 4);
  return line.charCodeAt(sp + 4) === 32 && /^\d{3}$/.test(code) ? code : '';
}

/** Index of the text (after ` :`) of a PRIVMSG line, or -1 when the line is no PRIVMSG. */
export function privmsgText(line: string): number {
  const at = line.indexOf(' PRIVMSG ');
  if (at < 0) return -1;
  const colon = line.indexOf(' :', at + 9);
  return colon < 0 ? -1 : colon + 2;
}
