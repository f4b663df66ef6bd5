#!/usr/bin/env bash
# The layering check passes on the real tree and catches each kind of violation in the
# fixture tree (tests/layering/fixture), with file, line and reason.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
check=$root/scripts/check-layering

"$check" "$root" || { echo "FAIL: the real tree breaks the layering rule (above)"; exit 1; }

set +e
output=$("$check" "$here/fixture")
status=$?
set -e
expected="protocol/smtp/leaky.hpp:3: forbidden include in protocol/: #include <boost/asio.hpp>
protocol/smtp/leaky.hpp:4: forbidden include in protocol/: #include <thread>
runtime/clock.cpp:2: clock, IO or ambient state in runtime/: long now_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }
runtime/clock.cpp:3: clock, IO or ambient state in runtime/: long wall() { return time(nullptr); }"
if [ $status -ne 1 ] || [ "$output" != "$expected" ]; then
  echo "FAIL: check-layering on the fixture exited $status and printed:"
  echo "$output"
  echo "expected exit 1 and:"
  echo "$expected"
  exit 1
fi
echo "layering: real tree clean; fixture violations caught (4 of 4)"
