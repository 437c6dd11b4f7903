// The client's terminal side: reading lines (a line editor on a terminal, plain lines from a pipe)
// and showing events (colour on a terminal, plain text in a pipe, JSON with --json). No sockets.

import * as readline from 'node:readline';
import pc from 'picocolors';
import { describe, sanitize, toJson, clock, type UiEvent } from './events.ts';

export interface Ui {
  /** True when a person types at a terminal (CLI-4 decides behaviour on this). */
  readonly interactive: boolean;
  /** The next line typed, or null at the end of input. */
  ask(prompt: string, options?: { secret?: boolean }): Promise<string | null>;
  show(event: UiEvent): void;
  close(): void;
}

export interface UiOptions {
  json: boolean;
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
  output?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: Record<string, string | undefined>;
  /** Completions for the line typed so far (CLI-3). */
  complete?: (line: string) => string[];
}

/** NO_COLOR (set and not empty) or output that is not a terminal: no colour (CLI-2). */
export function colourEnabled(output: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  return !!output.isTTY && !env.NO_COLOR;
}

const NAME_COLOURS = ['cyan', 'green', 'yellow', 'blue', 'magenta', 'red'] as const;

/** The same user always gets the same colour. */
export function nameColour(name: string): (typeof NAME_COLOURS)[number] {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return NAME_COLOURS[h % NAME_COLOURS.length] as (typeof NAME_COLOURS)[number];
}

/** A queue of lines from readline, taken one at a time by ask(). */
class LineQueue {
  private lines: string[] = [];
  private waiter: ((line: string | null) => void) | undefined;
  ended = false;

  push(line: string): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(line);
    } else this.lines.push(line);
  }

  end(): void {
    this.ended = true;
    this.waiter?.(null);
    this.waiter = undefined;
  }

  next(): Promise<string | null> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

export function createUi(options: UiOptions): Ui {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const env = options.env ?? process.env;
  const interactive = !!input.isTTY && !options.json;
  const colours = pc.createColors(colourEnabled(output, env));
  const queue = new LineQueue();
  let muted = false;
  let prompting = false;

  const rl = readline.createInterface({
    input,
    output: interactive ? output : undefined,
    terminal: interactive,
    historySize: interactive ? 500 : 0,
    completer: interactive && options.complete
      ? (line: string) => {
          const hits = options.complete?.(line) ?? [];
          return [hits, line.slice(line.lastIndexOf(' ') + 1)];
        }
      : undefined,
  });
  const internals = rl as unknown as { _writeToOutput(s: string): void; history?: string[]; prevRows?: number };
  if (interactive) {
    // Password entry: echo nothing but the line end (AUTH-2).
    const write = internals._writeToOutput.bind(rl);
    internals._writeToOutput = (s: string) => write(muted ? (s.includes('\n') || s.includes('\r') ? '\n' : '') : s);
  }
  rl.on('line', (line) => {
    prompting = false;
    if (muted) {
      muted = false;
      internals.history?.shift();
    }
    queue.push(line);
  });
  rl.on('close', () => {
    // No prompt to redraw any more: later lines are printed plainly.
    prompting = false;
    queue.end();
  });
  // Ctrl-C at the prompt ends input like Ctrl-D: the client logs out cleanly.
  rl.on('SIGINT', () => rl.close());

  const paint = (e: UiEvent): string | undefined => {
    const d = describe(e);
    if (d.quiet && !options.json) return undefined;
    const text = sanitize(d.text);
    if (!interactive) return text;
    const stamp = colours.dim(clock('at' in e && typeof e.at === 'number' ? e.at : Date.now()));
    switch (d.kind) {
      case 'message':
      case 'broadcast': {
        const from = (e as { from: string }).from;
        const name = colours.bold(colours[nameColour(from)](sanitize(from)));
        return `${stamp} ${name}${text.slice(sanitize(from).length)}`;
      }
      case 'private': {
        if (e.type !== 'private-message') return `${stamp} ${colours.magenta(text)}`;
        const from = sanitize(e.from);
        return `${stamp} ${colours.bold(colours.magenta(from))}${colours.magenta(' (private)')}${text.slice(from.length + ' (private)'.length)}`;
      }
      case 'presence':
        return `${stamp} ${colours.dim(text)}`;
      case 'error':
        return `${stamp} ${colours.red(text)}`;
      case 'info':
        return `${stamp} ${text}`;
    }
  };

  const print = (text: string): void => {
    if (!interactive || !prompting) {
      output.write(`${text}\n`);
      return;
    }
    // CLI-1: clear the input area, print, then redraw the prompt and the half-typed line.
    const { rows } = rl.getCursorPos();
    readline.moveCursor(output, 0, -rows);
    readline.cursorTo(output, 0);
    readline.clearScreenDown(output);
    output.write(`${text}\n`);
    internals.prevRows = 0;
    rl.prompt(true);
  };

  return {
    interactive,
    ask(prompt, { secret = false } = {}) {
      if (interactive) {
        muted = false;
        rl.setPrompt(prompt);
        rl.prompt();
        muted = secret;
        prompting = true;
      }
      return queue.next();
    },
    show(event) {
      if (options.json) {
        output.write(`${toJson(event)}\n`);
        return;
      }
      const text = paint(event);
      if (text !== undefined) print(text);
    },
    close() {
      prompting = false;
      rl.close();
    },
  };
}
