// What a person can type: the server's typed verbs (from the protocol table) plus the client's own.
// Help and tab completion are built from here (CLI-3).

import { COMMANDS, usageOf, type ArgKind } from '../protocol/commands.ts';

export interface TypedCommand {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly args: readonly ArgKind[];
  /** Handled by the client itself, not sent to the server. */
  readonly local: boolean;
}

const LOCAL: TypedCommand[] = [
  { name: 'private', usage: 'private <user> <text>', summary: 'send <text> over your private chat with <user> (never via the server)', args: ['user', 'text'], local: true },
  { name: 'help', usage: 'help [command]', summary: 'list the commands, or explain one', args: [], local: true },
];

export const TYPED: readonly TypedCommand[] = [
  ...Object.entries(COMMANDS)
    .filter(([, spec]) => spec.typed && spec.phase === 'session')
    .map(([name, spec]) => ({ name, usage: usageOf(name, spec.args), summary: spec.summary, args: spec.args, local: false })),
  ...LOCAL,
];

export function findCommand(name: string): TypedCommand | undefined {
  return TYPED.find((c) => c.name === name);
}

/** `help` or `help <command>` text. */
export function helpText(topic?: string): string {
  if (topic) {
    const command = findCommand(topic);
    return command ? `${command.usage}\n  ${command.summary}` : `No command "${topic}". Type help for the list.`;
  }
  const width = Math.max(...TYPED.map((c) => c.usage.length));
  return ['Commands:', ...TYPED.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`)].join('\n');
}

/**
 * Completions for what has been typed: command names for the first word; for a command's
 * <user> argument, the names in `users(command)`.
 */
export function complete(line: string, users: (command: string) => Iterable<string>): string[] {
  const words = line.trimStart().split(/\s+/);
  if (words.length <= 1) {
    const prefix = words[0] ?? '';
    return TYPED.map((c) => `${c.name} `).filter((n) => n.startsWith(prefix));
  }
  const command = findCommand(words[0] as string);
  if (words.length === 2 && command?.args[0] === 'user') {
    const prefix = words[1] as string;
    return [...new Set(users(command.name))].filter((u) => u.startsWith(prefix)).sort().map((u) => `${u} `);
  }
  if (words.length === 2 && command?.name === 'help') {
    return TYPED.map((c) => c.name).filter((n) => n.startsWith(words[1] as string));
  }
  return [];
}
