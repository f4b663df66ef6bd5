#!/usr/bin/env bash
# The promise of docs/embedding.md, checked: tern::protocol installs as a CMake package,
# the example program in the doc is the one in docs/examples/ (verbatim), it builds from
# the installed package alone, and it serves a real SMTP conversation on 127.0.0.1.
#   run.sh BUILD_DIR SOURCE_DIR CXX CXX_FLAGS LINKER_FLAGS
set -euo pipefail
build=$1 source=$2 cxx=$3 cxx_flags=$4 linker_flags=$5
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true' EXIT

# 1. The doc shows exactly the example that is built here.
awk '/^```cpp$/{f=1;next} /^```$/{f=0} f' "$source/docs/embedding.md" >"$work/from-doc.cpp"
if ! diff -u "$source/docs/examples/embedded_smtp_server.cpp" "$work/from-doc.cpp" >"$work/diff"; then
  echo "FAIL: docs/embedding.md does not show docs/examples/embedded_smtp_server.cpp verbatim:"
  head -20 "$work/diff"
  exit 1
fi

# 2. Install the package and build the example against it, and nothing else.
cmake --install "$build" --prefix "$work/prefix" --component protocol >/dev/null
cmake -S "$source/docs/examples" -B "$work/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$cxx_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$linker_flags" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/example" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }

# 3. Run it and hold a conversation with it over a real socket.
"$work/example/embedded_smtp_server" 1 >"$work/server.out" &
server=$!
for _ in $(seq 100); do grep -q '^listening on' "$work/server.out" && break; sleep 0.05; done
port=$(sed -n 's/^listening on //p' "$work/server.out")
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'EHLO test.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n' >&3
printf 'Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n' >&3
replies=$(timeout 10 cat <&3 | tr -d '\r')
exec 3>&-
wait "$server"
server=
expected_tail="250 2.1.0 Sender OK
250 2.1.5 Recipient OK
354 Start mail input; end with <CRLF>.<CRLF>
250 2.0.0 Message accepted
221 2.0.0 embedded.example closing connection"
if [ "$(printf '%s\n' "$replies" | tail -5)" != "$expected_tail" ] ||
   [ "$(head -1 <<<"$replies")" != "220 embedded.example ESMTP Tern" ] ||
   ! grep -q '^message of 21 bytes accepted$' "$work/server.out"; then
  echo "FAIL: the example did not hold the conversation. Replies:"; echo "$replies"
  echo "Server output:"; cat "$work/server.out"
  exit 1
fi
echo "embedding: package installed, example built from it, conversation held"
