# tests/cli/expect.sh — sourced by the CLI black-box tests.
#   expect NAME WANT_STATUS WANT_OUTPUT -- COMMAND...
# runs COMMAND (stdout and stderr together) and counts a pass when both the exit status
# and the output are exactly as wanted; otherwise prints both sides. finish prints
# "N passed, N failed" and returns non-zero on any failure.
failures=0
passes=0

expect() {
  local name=$1 want_status=$2 want_output=$3
  shift 4
  local output status
  output=$("$@" 2>&1)
  status=$?
  if [ "$status" -eq "$want_status" ] && [ "$output" == "$want_output" ]; then
    passes=$((passes + 1))
  else
    failures=$((failures + 1))
    printf 'FAIL %s: exit %s, output:\n%s\nwanted exit %s, output:\n%s\n\n' \
      "$name" "$status" "$output" "$want_status" "$want_output"
  fi
}

finish() {  # finish LABEL
  echo "$1: $passes passed, $failures failed"
  [ "$failures" -eq 0 ]
}
