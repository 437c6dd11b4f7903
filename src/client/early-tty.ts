// Imported first by cli.ts, before the rest of the program loads: `chat connect` on a terminal
// turns the terminal's own echo off (raw mode) at once, so a password typed ahead in the first
// instants is not echoed by the terminal before the line editor takes over (AUTH-2). The line
// editor echoes what it should; raw mode is undone on exit, however the process ends.

const args = process.argv.slice(2);
if (args[0] === 'connect' && !args.includes('--json') && process.stdin.isTTY && typeof process.stdin.setRawMode === 'function') {
  process.stdin.setRawMode(true);
  process.on('exit', () => process.stdin.setRawMode(false));
}

export {};
