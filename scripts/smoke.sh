#!/usr/bin/env bash
# Smoke test of a compiled `chat` executable, with no Bun anywhere on PATH.
#
#   bash scripts/smoke.sh [path/to/chat]        (default: dist/chat)
#
# Needs only bash and the usual POSIX tools. It copies the executable alone into an empty
# directory, hides every `bun` on PATH (and puts a `git` there that records being run), then,
# from a different working directory holding just a credentials.txt:
#   - `chat --version` prints "chat <package.json version> (<commit>)" without running git, and
#     without obeying a bunfig.toml in the working directory;
#   - `chat serve 0 60 300 --host 127.0.0.1` (default --credentials and --db, which must resolve
#     against the working directory) reports its port on its first line of output;
#   - with --web 0 it reports the web client's address on its second line; the page, its script,
#     and a WebSocket login over /ws (all through bash's /dev/tcp) work from the executable alone;
#   - yoda logs in and stays logged in; hans logs in, sends `message yoda ...`, logs out (exit 0);
#   - yoda receives the message, logs out (exit 0);
#   - SIGTERM stops the server with exit code 0; chat.db is in the working directory and nothing
#     was written beside the executable.
# Any mismatch prints "SMOKE FAILED: <what>" and the processes' output, and exits 1.
#
# CHAT_EXPECT_COMMIT=<short hash> also checks the commit --version shows (a "-dirty" suffix is allowed).

set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin_arg=${1:-$repo/dist/chat}
[ -f "$bin_arg" ] && [ -x "$bin_arg" ] || { echo "SMOKE FAILED: $bin_arg is not an executable file (run \`bun run build --host\` first)" >&2; exit 1; }

started=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/chat-smoke.XXXXXX")
bindir=$tmp/bin      # the executable, alone
work=$tmp/work       # the working directory: credentials.txt, and the chat.db the server creates
logs=$tmp/logs
mkdir -p "$bindir" "$work" "$logs" "$tmp/fake" "$tmp/home"
cp "$bin_arg" "$bindir/chat"
BIN=$bindir/chat

pids=()
cleanup() {
  exec 3>&- 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

show_logs() {
  for f in "$logs"/*; do
    [ -s "$f" ] || continue
    echo "----- ${f##*/}" >&2
    tail -n 40 "$f" >&2
  done
}

die() {
  echo "SMOKE FAILED: $*" >&2
  show_logs
  exit 1
}

say() { echo "smoke: $*"; }

# ---------------------------------------------------------------------------------------------
# A PATH without Bun: every PATH directory holding `bun` or `bunx` is replaced by a directory of
# links to everything else in it (Bun often lives in /usr/bin beside everything else).

safe_path=$tmp/fake
i=0
IFS=: read -r -a path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  [ -n "$dir" ] && [ -d "$dir" ] || continue
  if [ -e "$dir/bun" ] || [ -e "$dir/bunx" ] || [ -e "$dir/bun.exe" ]; then
    i=$((i + 1))
    shim=$tmp/path$i
    mkdir "$shim"
    ln -s "$dir"/* "$shim"/ 2>/dev/null || true
    rm -f "$shim/bun" "$shim/bunx" "$shim/bun.exe" "$shim/bunx.exe"
    safe_path=$safe_path:$shim
  else
    safe_path=$safe_path:$dir
  fi
done
# A `git` that records being run: the executable must know its commit without asking git.
cat >"$tmp/fake/git" <<EOF
#!/bin/sh
echo "git \$*" >>"$tmp/git-was-run"
exit 1
EOF
chmod +x "$tmp/fake/git"
export PATH=$safe_path
if command -v bun >/dev/null 2>&1; then die "bun is still on PATH at $(command -v bun)"; fi
say "PATH has no bun; running $bin_arg as $BIN from $work"

# Run the executable from $work with nothing inherited but PATH: no BUN_* or NODE_* variables, a
# fresh HOME. (`env` execs it, so $! of a background `$run ... &` is the chat process itself.)
cd "$work"
run=(env -i PATH="$PATH" HOME="$tmp/home" NO_COLOR=1 "$BIN")

# wait_for FILE REGEX SECONDS WHAT: until a line of FILE matches REGEX (grep -E).
wait_for() {
  local deadline=$((SECONDS + $3))
  until grep -qE -- "$2" "$1" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after $3 s waiting for $4 (/$2/ in ${1##*/})"
    sleep 0.1
  done
}

# wait_exit PID SECONDS WHAT: waits for a child to end and sets rc to its exit code.
wait_exit() {
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die "$3 still running after $2 s"
    sleep 0.1
  done
  rc=0
  wait "$1" || rc=$?
}

# ---------------------------------------------------------------------------------------------
# --version

version=${CHAT_EXPECT_VERSION:-$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$repo/package.json" 2>/dev/null | head -n 1)}
[ -n "$version" ] || version='[0-9][^ ]*'
commit_re='[0-9a-f]{7,40}(-dirty)?'
[ -z "${CHAT_EXPECT_COMMIT:-}" ] || commit_re="${CHAT_EXPECT_COMMIT}(-dirty)?"
# A bunfig.toml in the working directory must not be obeyed (the build turns its autoloading off).
echo 'preload = ["./preload.js"]' >"$work/bunfig.toml"
echo 'console.log("bunfig.toml preload ran")' >"$work/preload.js"
got=$("${run[@]}" --version 2>"$logs/version.err") || die "chat --version exited $?"
rm "$work/bunfig.toml" "$work/preload.js"
echo "$got" | grep -qxE "chat ${version//./\\.} \(${commit_re}\)" || die "chat --version printed \"$got\", expected \"chat $version ($commit_re)\""
[ ! -e "$tmp/git-was-run" ] || die "chat --version ran git: $(cat "$tmp/git-was-run")"
say "ok: --version prints \"$got\" without running git or a bunfig.toml preload"

# ---------------------------------------------------------------------------------------------
# Server, with the default ./credentials.txt and ./chat.db

printf 'hans falcon*solo\nyoda wise@!man\n' >"$work/credentials.txt"
"${run[@]}" serve 0 60 300 --host 127.0.0.1 --web 0 >"$logs/server.out" 2>"$logs/server.err" &
server=$!
pids+=("$server")
wait_for "$logs/server.out" '.' 15 "the server's first line"
first=$(head -n 1 "$logs/server.out")
port=$(echo "$first" | sed -n 's/^chat server listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p')
[ -n "$port" ] || die "the server's first line is \"$first\", not \"chat server listening on 127.0.0.1:<port>\""
say "ok: server listening on port $port"

# ---------------------------------------------------------------------------------------------
# The web client, embedded in the executable: the page, its script, and the WebSocket.

wait_for "$logs/server.out" '^web client on ' 15 "the web client's address"
web_port=$(sed -n 's|^web client on http://127\.0\.0\.1:\([0-9][0-9]*\)/$|\1|p' "$logs/server.out")
[ -n "$web_port" ] || die "the server's second line is \"$(sed -n 2p "$logs/server.out")\", not \"web client on http://127.0.0.1:<port>/\""

# http_get PATH FILE: the whole response (headers and body) of GET PATH, over bash's /dev/tcp.
http_get() {
  exec 5<>"/dev/tcp/127.0.0.1/$web_port" || die "cannot connect to the web port $web_port"
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" "$web_port" >&5
  timeout 10 cat <&5 >"$2" || true
  exec 5<&- 5>&-
}
http_get / "$logs/page.http"
head -n 1 "$logs/page.http" | grep -q '^HTTP/1.1 200' || die "GET / answered \"$(head -n 1 "$logs/page.http")\""
grep -q "Content-Security-Policy\" content=\"default-src 'self'" "$logs/page.http" || die "the page has no Content-Security-Policy of 'self'"
script=$(grep -o '<script type="module" crossorigin src="[^"]*"' "$logs/page.http" | sed 's/.*src="\([^"]*\)"/\1/' | head -n 1)
[ -n "$script" ] || die "the page loads no script"
http_get "$script" "$logs/script.http"
head -n 1 "$logs/script.http" | grep -q '^HTTP/1.1 200' || die "GET $script answered \"$(head -n 1 "$logs/script.http")\""
say "ok: the web client's page and script ($script) come from the executable"

# A WebSocket by hand: the upgrade, one masked text frame "login hans" (mask key 0), a close frame.
exec 6<>"/dev/tcp/127.0.0.1/$web_port" || die "cannot connect to the web port $web_port"
printf 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nOrigin: http://127.0.0.1:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n' "$web_port" "$web_port" >&6
printf '\x81\x8a\x00\x00\x00\x00login hans' >&6
sleep 0.5
printf '\x88\x80\x00\x00\x00\x00' >&6
timeout 10 cat <&6 >"$logs/ws.out" || true
exec 6<&- 6>&-
head -n 1 "$logs/ws.out" | grep -aq '^HTTP/1.1 101' || die "the WebSocket upgrade answered \"$(head -n 1 "$logs/ws.out")\""
grep -aq '{"type":"ok","code":"password","user":"hans"' "$logs/ws.out" || die "no reply to \"login hans\" over the WebSocket"
say "ok: a WebSocket to /ws carries the line protocol (login hans -> password)"

# yoda: stdin is a fifo held open on fd 3, so yoda stays logged in until we say logout.
mkfifo "$tmp/yoda.in"
"${run[@]}" connect "$port" --json <"$tmp/yoda.in" >"$logs/yoda.out" 2>"$logs/yoda.err" &
yoda=$!
pids+=("$yoda")
exec 3>"$tmp/yoda.in"
printf 'yoda\nwise@!man\n' >&3
wait_for "$logs/yoda.out" '"code":"welcome"' 15 "yoda to log in"
say "ok: yoda logged in"

# hans: piped input; logs in, sends, logs out at the end of it.
printf 'hans\nfalcon*solo\nmessage yoda hello from the smoke test\nlogout\n' | "${run[@]}" connect "$port" --json >"$logs/hans.out" 2>"$logs/hans.err" &
hans=$!
pids+=("$hans")
wait_exit "$hans" 20 "hans's client"
[ "$rc" = 0 ] || die "hans's client exited $rc, expected 0"
grep -q '"code":"welcome"' "$logs/hans.out" || die "hans did not log in"
grep '"code":"delivered"' "$logs/hans.out" | grep -q '"to":"yoda"' || die "hans's message was not reported delivered to yoda"
say "ok: hans logged in, sent the message (delivered), logged out with exit code 0"

wait_for "$logs/yoda.out" '"type":"message".*"body":"hello from the smoke test"|"body":"hello from the smoke test".*"type":"message"' 10 "the message to reach yoda"
grep '"type":"message"' "$logs/yoda.out" | grep '"body":"hello from the smoke test"' | grep -q '"from":"hans"' || die "yoda's message is not from hans"
say "ok: yoda received \"hello from the smoke test\" from hans"

printf 'logout\n' >&3
exec 3>&-
wait_exit "$yoda" 15 "yoda's client"
[ "$rc" = 0 ] || die "yoda's client exited $rc, expected 0"
grep -q '"type":"exit","status":0' "$logs/yoda.out" || die "yoda's client did not report a clean logout"
say "ok: yoda logged out with exit code 0"

kill -TERM "$server"
wait_exit "$server" 15 "the server after SIGTERM"
[ "$rc" = 0 ] || die "the server exited $rc after SIGTERM, expected 0"
say "ok: server stopped by SIGTERM with exit code 0"

# ---------------------------------------------------------------------------------------------
# Files: the database in the working directory, nothing beside the executable, no git.

[ -s "$work/chat.db" ] || die "no chat.db in the working directory $work"
beside=$(ls -A "$bindir")
[ "$beside" = chat ] || die "files appeared beside the executable: $(echo "$beside" | tr '\n' ' ')"
[ ! -e "$tmp/git-was-run" ] || die "the executable ran git: $(cat "$tmp/git-was-run")"
say "ok: chat.db created in the working directory; nothing written beside the executable; git never run"

say "PASS ($((SECONDS - started)) s)"
