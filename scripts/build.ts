#!/usr/bin/env bun
// `bun run build`: compiles src/cli.ts into standalone executables in dist/.
//
//   bun run build                      dist/chat (this machine) + every release target + SHA256SUMS
//   bun run build --host               dist/chat + SHA256SUMS only (what CI uses)
//   bun run build linux-arm64 ...      dist/chat + the named targets + SHA256SUMS
//   bun run build --strict             a target that cannot be built fails the build
//
// Each executable is `bun build --compile --minify --bytecode --format=esm --splitting` (bytecode with a
// top-level await needs ESM) with the git commit baked in through `--define BUILD_COMMIT`, so
// `chat --version` never runs git. Other targets need that target's Bun runtime, the same
// version as the Bun running this script: it is fetched once with `npm pack @oven/bun-<target>`
// (npm checks the registry's integrity hash) and cached in ~/.cache/chat-build.
//
// dist/chat failing to build or to print its version is a failure (exit 1). Any other target
// that cannot be built is reported in one line and skipped (exit 0) unless --strict is given.

import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { START_JIT_POLICY } from '../src/util/jit-policy.ts';

const ROOT = join(import.meta.dir, '..');
const DIST = join(ROOT, 'dist');
const ENTRY = join(ROOT, 'src', 'cli.ts');
const BUN_VERSION = Bun.version;
const CACHE = process.env.CHAT_BUILD_CACHE ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'chat-build');
const FETCH_TIMEOUT_MS = 5 * 60_000;

type Os = 'linux' | 'darwin' | 'windows';
type Arch = 'x64' | 'arm64';

interface Target {
  /** Our name for it: dist/chat-<key>[.exe]. */
  key: string;
  os: Os;
  arch: Arch;
  /** `bun build --target=` value. */
  bunTarget: string;
  /** The npm package holding that target's Bun runtime. */
  runtimePackage: string;
}

const TARGETS: Target[] = [
  { key: 'linux-x64', os: 'linux', arch: 'x64', bunTarget: 'bun-linux-x64', runtimePackage: '@oven/bun-linux-x64' },
  { key: 'linux-arm64', os: 'linux', arch: 'arm64', bunTarget: 'bun-linux-arm64', runtimePackage: '@oven/bun-linux-aarch64' },
  { key: 'darwin-x64', os: 'darwin', arch: 'x64', bunTarget: 'bun-darwin-x64', runtimePackage: '@oven/bun-darwin-x64' },
  { key: 'darwin-arm64', os: 'darwin', arch: 'arm64', bunTarget: 'bun-darwin-arm64', runtimePackage: '@oven/bun-darwin-aarch64' },
  { key: 'windows-x64', os: 'windows', arch: 'x64', bunTarget: 'bun-windows-x64', runtimePackage: '@oven/bun-windows-x64' },
];

const fileName = (t: Pick<Target, 'key' | 'os'>) => `chat-${t.key}${t.os === 'windows' ? '.exe' : ''}`;

// ---------------------------------------------------------------------------------------------
// Command line

interface Options {
  hostOnly: boolean;
  strict: boolean;
  targets: Target[];
}

function usage(message: string): never {
  console.error(`build: ${message}`);
  console.error(`Usage: bun run build [--host] [--strict] [${TARGETS.map((t) => t.key).join('|')} ...]`);
  process.exit(2);
}

function parseArgs(args: string[]): Options {
  let hostOnly = false;
  let strict = false;
  const named: Target[] = [];
  for (const arg of args) {
    if (arg === '--host') hostOnly = true;
    else if (arg === '--strict') strict = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(readFileSync(import.meta.path, 'utf8').split('\n').slice(1, 16).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else {
      const target = TARGETS.find((t) => t.key === arg);
      if (!target) usage(`unknown argument "${arg}"`);
      if (!named.includes(target)) named.push(target);
    }
  }
  if (hostOnly && named.length > 0) usage('--host builds only dist/chat; leave out the target names');
  return { hostOnly, strict, targets: hostOnly ? [] : named.length > 0 ? named : TARGETS };
}

// ---------------------------------------------------------------------------------------------
// Helpers

interface Ran {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

async function run(cmd: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<Ran> {
  let proc;
  try {
    proc = Bun.spawn(cmd, { cwd: options.cwd ?? ROOT, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  } catch (err) {
    return { ok: false, code: null, stdout: '', stderr: (err as Error).message };
  }
  const timer = options.timeoutMs ? setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs) : undefined;
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { ok: code === 0, code: proc.signalCode ? null : code, stdout, stderr };
}

/** The most useful single line of a failed command's output. */
function reason(r: Ran): string {
  const lines = `${r.stderr}\n${r.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^npm (warn|notice)/i.test(l));
  const error = lines.find((l) => /error/i.test(l)) ?? lines.at(-1);
  return error ?? (r.code === null ? 'killed (timed out)' : `exit code ${r.code}`);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** The commit baked into the binaries: CHAT_BUILD_COMMIT, else git's short hash ("-dirty" if the inputs changed). */
async function buildCommit(): Promise<string> {
  const forced = process.env.CHAT_BUILD_COMMIT;
  if (forced !== undefined) {
    if (!/^[\w.+-]{0,64}$/.test(forced)) usage(`CHAT_BUILD_COMMIT must be up to 64 letters, digits, "._+-", not "${forced}"`);
    return forced;
  }
  const head = await run(['git', 'rev-parse', '--short', 'HEAD']);
  if (!head.ok || !head.stdout.trim()) {
    console.log('note    no git commit found (not a git checkout, or no git): `chat --version` will show none (set CHAT_BUILD_COMMIT to give one)');
    return '';
  }
  // Only what goes into the binary counts: the sources, the dependencies, the compiler settings.
  const status = await run(['git', 'status', '--porcelain', '--', 'src', 'package.json', 'bun.lock', 'tsconfig.json']);
  return head.stdout.trim() + (status.ok && status.stdout.trim() ? '-dirty' : '');
}

/** The OS and CPU an executable was built for, read from its header; undefined if unrecognised. */
function executableKind(path: string): { os: Os; arch: Arch } | undefined {
  const head = Buffer.alloc(4096);
  const fd = openSync(path, 'r');
  let length: number;
  try {
    length = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (length < 64) return undefined;
  if (head.readUInt32BE(0) === 0x7f454c46) {
    const machine = head.readUInt16LE(18);
    return machine === 0x3e ? { os: 'linux', arch: 'x64' } : machine === 0xb7 ? { os: 'linux', arch: 'arm64' } : undefined;
  }
  if (head.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = head.readUInt32LE(4);
    return cpu === 0x01000007 ? { os: 'darwin', arch: 'x64' } : cpu === 0x0100000c ? { os: 'darwin', arch: 'arm64' } : undefined;
  }
  if (head.toString('latin1', 0, 2) === 'MZ') {
    const pe = head.readUInt32LE(0x3c);
    if (pe + 6 > length || head.toString('latin1', pe, pe + 4) !== 'PE\0\0') return undefined;
    const machine = head.readUInt16LE(pe + 4);
    return machine === 0x8664 ? { os: 'windows', arch: 'x64' } : machine === 0xaa64 ? { os: 'windows', arch: 'arm64' } : undefined;
  }
  return undefined;
}

/**
 * Why macOS would refuse to run this Mach-O executable, or undefined if its code signature checks
 * out: one CodeDirectory whose SHA-256 page hashes cover every byte before the signature and
 * match them. (Apple Silicon kills an executable without a valid signature; an invalid signature
 * is refused on Intel Macs too. Checked here because no `codesign` runs on Linux.)
 */
function machoSignatureProblem(path: string): string | undefined {
  const file = readFileSync(path);
  const ncmds = file.readUInt32LE(16);
  let signature: { offset: number; size: number } | undefined;
  for (let i = 0, at = 32; i < ncmds; i++) {
    if (file.readUInt32LE(at) === 0x1d) signature = { offset: file.readUInt32LE(at + 8), size: file.readUInt32LE(at + 12) };
    at += file.readUInt32LE(at + 4);
  }
  if (!signature) return 'it has no code signature';
  const blob = file.subarray(signature.offset, signature.offset + signature.size);
  if (blob.readUInt32BE(0) !== 0xfade0cc0) return 'its code signature is not a signature blob';
  let directory: Buffer | undefined;
  for (let i = 0, count = blob.readUInt32BE(8); i < count; i++) {
    const type = blob.readUInt32BE(12 + 8 * i);
    const at = blob.readUInt32BE(16 + 8 * i);
    if (type === 0 && blob.readUInt32BE(at) === 0xfade0c02) directory = blob.subarray(at);
  }
  if (!directory) return 'its code signature has no code directory';
  const hashOffset = directory.readUInt32BE(16);
  const slots = directory.readUInt32BE(28);
  const codeLimit = directory.readUInt32BE(32);
  const [hashSize, hashType, , pageShift] = [directory[36]!, directory[37]!, directory[38]!, directory[39]!];
  if (hashType !== 2 || hashSize !== 32) return `its code signature uses hash type ${hashType}, not SHA-256`;
  const pageSize = 2 ** pageShift;
  let wrong = 0;
  for (let slot = 0; slot < slots; slot++) {
    const page = file.subarray(slot * pageSize, Math.min((slot + 1) * pageSize, codeLimit));
    const expected = directory.subarray(hashOffset + slot * hashSize, hashOffset + (slot + 1) * hashSize);
    if (!new Bun.CryptoHasher('sha256').update(page).digest().equals(expected)) wrong++;
  }
  if (codeLimit !== signature.offset || wrong > 0) {
    return `its code signature is invalid (it seals ${codeLimit} of the ${signature.offset} bytes before it, and ${wrong} of its ${slots} page hashes are wrong), so macOS would kill it`;
  }
  if (signature.offset + signature.size !== file.length) return 'it has bytes after its code signature, which macOS rejects';
  return undefined;
}

async function sha256(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher('sha256');
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Runtimes for other targets

/** The host as a target key, or undefined when it is not one of ours (or is musl: our linux targets are glibc). */
function hostKey(): string | undefined {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const key = `${os}-${process.arch}`;
  if (process.platform === 'linux') {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    if (!header?.glibcVersionRuntime) return undefined;
  }
  return TARGETS.some((t) => t.key === key) ? key : undefined;
}

/** Path of the cached runtime for `target`, fetching it with npm first if needed; or why it cannot be had. */
async function runtimeFor(target: Target): Promise<{ path: string } | { error: string }> {
  const spec = `${target.runtimePackage}@${BUN_VERSION}`;
  const dir = join(CACHE, `${basename(target.runtimePackage)}-${BUN_VERSION}`);
  const exe = join(dir, target.os === 'windows' ? 'bun.exe' : 'bun');
  if (existsSync(exe) && statSync(exe).size > 1024 * 1024) return { path: exe };

  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(join(CACHE, '.fetch-'));
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    if (!Bun.which(npm)) return { error: `npm is not installed (needed to fetch ${spec})` };
    const pack = await run([npm, 'pack', spec, '--pack-destination', tmp, '--json', '--loglevel=error'], { cwd: tmp, timeoutMs: FETCH_TIMEOUT_MS });
    if (!pack.ok) {
      // With --json, npm puts its one-line summary of the error on stdout.
      let summary: string | undefined;
      try {
        summary = (JSON.parse(pack.stdout) as { error?: { summary?: string } }).error?.summary;
      } catch {}
      return { error: `npm pack ${spec} failed: ${summary ?? reason(pack)}` };
    }
    let tarball: string;
    try {
      const [info] = JSON.parse(pack.stdout) as { filename: string }[];
      tarball = join(tmp, info!.filename);
    } catch {
      return { error: `npm pack ${spec}: could not read its output` };
    }
    const untar = await run(['tar', '-xzf', tarball, '-C', tmp], { cwd: tmp });
    if (!untar.ok) return { error: `could not unpack ${basename(tarball)}: ${reason(untar)}` };
    const unpacked = join(tmp, 'package', 'bin', basename(exe));
    if (!existsSync(unpacked)) return { error: `${spec} has no bin/${basename(exe)}` };
    mkdirSync(dir, { recursive: true });
    chmodSync(unpacked, 0o755);
    renameSync(unpacked, exe); // atomic: a concurrent or interrupted build never sees half a file
    return { path: exe };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Building

async function compile(outfile: string, commit: string, cross?: { target: Target; executable: string }): Promise<Ran> {
  return run([
    process.execPath,
    'build',
    ENTRY,
    '--compile',
    '--minify',
    '--bytecode',
    '--format=esm',
    // The server, the terminal client, the web page and the cluster code in chunks of their own,
    // loaded when imported: a server does not hold the client's code (RSS 47.4 -> 41-43 MiB, B8).
    '--splitting',
    '--define',
    `BUILD_COMMIT=${JSON.stringify(commit)}`,
    // The binary must behave the same wherever it runs: no .env or bunfig.toml picked up from the
    // working directory (tsconfig.json and package.json are not read at run time by default).
    '--no-compile-autoload-dotenv',
    '--no-compile-autoload-bunfig',
    // The executable starts with JavaScriptCore's tier-up thresholds scaled up, so that loading its
    // modules and starting a server run in the interpreter; cli.ts sets the normal policy for every
    // other command, and the server once it listens (src/util/jit-policy.ts; RSS, B8).
    ...(typeof Bun.unsafe.setJITPolicy === 'function' ? [`--compile-jit-policy=${START_JIT_POLICY}`] : []),
    ...(cross ? [`--target=${cross.target.bunTarget}`, `--compile-executable-path=${cross.executable}`] : []),
    '--outfile',
    outfile,
  ]);
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const commit = await buildCommit();
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const expectedVersion = commit ? `chat ${pkg.version} (${commit})` : `chat ${pkg.version}`;

  // A fresh dist/: SHA256SUMS must describe exactly what this build made.
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(DIST, { recursive: true });
  const built: string[] = [];
  const skipped: string[] = [];

  // 1. This machine: must work.
  const hostFile = join(DIST, process.platform === 'win32' ? 'chat.exe' : 'chat');
  const compiled = await compile(hostFile, commit);
  if (!compiled.ok) {
    console.error(`FAILED  ${relative(ROOT, hostFile)}: bun build exited ${compiled.code}\n${compiled.stderr.trim()}\n${compiled.stdout.trim()}`);
    return 1;
  }
  // Run it from an empty directory, so nothing beside the sources can help it.
  const emptyDir = mkdtempSync(join(tmpdir(), 'chat-build-check-'));
  const check = await run([hostFile, '--version'], { cwd: emptyDir, timeoutMs: 30_000 });
  rmSync(emptyDir, { recursive: true, force: true });
  if (!check.ok || check.stdout.trim() !== expectedVersion) {
    console.error(`FAILED  ${relative(ROOT, hostFile)} --version: expected "${expectedVersion}", got "${check.stdout.trim()}" (exit ${check.code}) ${check.stderr.trim()}`);
    return 1;
  }
  built.push(hostFile);
  console.log(`built   ${relative(ROOT, hostFile).padEnd(30)} ${mib(statSync(hostFile).size).padStart(10)}  this machine (${process.platform}-${process.arch}); prints "${expectedVersion}"`);

  // 2. The release targets: each one either builds or is reported in one line. Their runtimes
  // (the first time, ~50 MB downloads) are fetched all at once, then each target is compiled.
  const host = hostKey();
  const fetches = new Map(options.targets.filter((t) => t.key !== host).map((t) => [t.key, runtimeFor(t)] as const));
  for (const target of options.targets) {
    const out = join(DIST, fileName(target));
    const label = relative(ROOT, out).padEnd(30);
    if (target.key === host) {
      // The same runtime as dist/chat, so the same bytes: ship exactly what was just checked.
      copyFileSync(hostFile, out);
    } else {
      const runtime = await fetches.get(target.key)!;
      if ('error' in runtime) {
        skipped.push(`skipped ${target.key}: ${runtime.error}`);
        console.log(skipped.at(-1));
        continue;
      }
      const result = await compile(out, commit, { target, executable: runtime.path });
      if (!result.ok) {
        rmSync(out, { force: true });
        skipped.push(`skipped ${target.key}: bun build --target=${target.bunTarget} failed: ${reason(result)}`);
        console.log(skipped.at(-1));
        continue;
      }
    }
    const kind = existsSync(out) ? executableKind(out) : undefined;
    if (!kind || kind.os !== target.os || kind.arch !== target.arch) {
      rmSync(out, { force: true });
      skipped.push(`skipped ${target.key}: the output is not a ${target.os}-${target.arch} executable (${kind ? `${kind.os}-${kind.arch}` : 'unrecognised header'})`);
      console.log(skipped.at(-1));
      continue;
    }
    const unsigned = target.os === 'darwin' ? machoSignatureProblem(out) : undefined;
    if (unsigned) {
      rmSync(out, { force: true });
      skipped.push(`skipped ${target.key}: Bun ${BUN_VERSION} built it, but ${unsigned}`);
      console.log(skipped.at(-1));
      continue;
    }
    built.push(out);
    console.log(`built   ${label} ${mib(statSync(out).size).padStart(10)}  ${target.key === host ? 'copy of dist/chat' : `Bun ${BUN_VERSION} runtime ${basename(target.runtimePackage)}`}`);
  }

  // 3. Checksums, in `sha256sum -c` format, names relative to dist/.
  const lines: string[] = [];
  for (const file of built) lines.push(`${await sha256(file)}  ${basename(file)}`);
  writeFileSync(join(DIST, 'SHA256SUMS'), `${lines.join('\n')}\n`);
  console.log(`wrote   dist/SHA256SUMS (${built.length} file${built.length === 1 ? '' : 's'}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  if (skipped.length > 0 && options.strict) {
    console.error(`FAILED  --strict: ${skipped.length} target(s) not built`);
    return 1;
  }
  return 0;
}

process.exit(await main());
