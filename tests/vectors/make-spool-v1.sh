#!/bin/sh
# Writes tests/vectors/spool-v1/: a spool as govtrail's v1 writers left it (RECORD.md §5,
# §5.2), for tests/e2e/format_v1.rs. Run once from the repository root with a built
# `govtrail`; the committed files are the fixture (ids and times differ on every run).
set -eu
bin=${GOVTRAIL_BIN:-target/debug/govtrail}
out=tests/vectors/spool-v1
rm -rf "$out" && mkdir -p "$out"
bundle=examples/bundles/tractatus
edit() { printf '{"session_id":"s-v1","prompt_id":"p2","cwd":"/work","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Edit","tool_input":{"file_path":"/work/.claude/instruction-history.json","old_string":"a","new_string":"b"},"tool_use_id":"toolu_%s"}' "$1"; }
pre() { printf '{"session_id":"s-v1","prompt_id":"p1","cwd":"/work","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"%s"},"tool_use_id":"toolu_%s"}' "$1" "$2"; }
# 1. `govtrail hook` around a hook that allows, one that denies (exit 2), one whose stdout is
#    not UTF-8 (kept as stdout_b64).
pre "ls -la" 01 | "$bin" hook --spool "$out" --engine tractatus --service PreToolUseHook -- sh -c 'cat >/dev/null; echo "{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\",\"permissionDecision\":\"allow\"}}"'
pre "rm -rf /" 02 | "$bin" hook --spool "$out" --engine tractatus --service PreToolUseHook -- sh -c 'cat >/dev/null; echo "blocked by inst_027" >&2; exit 2' || true
pre "cat /bin/true" 03 | "$bin" hook --spool "$out" --engine tractatus -- sh -c 'cat >/dev/null; printf "\377\376binary"'
# 2. `govtrail decide` in process: an edit of the instruction history the bundle denies
#    (inst_027).
edit 04 | "$bin" decide --bundle "$bundle" --spool "$out" --no-server
# 3. The resident evaluator: three calls in its hook log, then stopped.
"$bin" decide --serve --bundle "$bundle" --spool "$out" & server=$!
i=0; while [ ! -S "$out/.decide.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
pre "git status" 05 | "$bin" decide --bundle "$bundle" --spool "$out"
edit 06 | "$bin" decide --bundle "$bundle" --spool "$out"
pre "git status --short" 07 | "$bin" decide --bundle "$bundle" --spool "$out"
kill -TERM $server; wait $server || true
# The log is 16 MiB of which a few KiB are frames: keep the frames and 64 bytes of zeros (a
# shorter log is the same log to a reader), and a drain mark after its first frame (a drain
# that ran once while the server held the log).
python3 - "$out" <<'PY'
import glob, os, struct, sys
out = sys.argv[1]
(log,) = glob.glob(os.path.join(out, "*.hooklog"))
data = open(log, "rb").read()
at, ends = 0, []
while at + 8 <= len(data):
    n, crc = struct.unpack_from("<II", data, at)
    if n == 0 and crc == 0:
        break
    at += 8 + n
    ends.append(at)
open(log, "wb").write(data[:at] + bytes(64))
name = os.path.basename(log)
open(os.path.join(out, "." + name + ".drained"), "w").write(f"{ends[0]}\n")
PY
# 4. A call file a drain must reject (started_us is not an integer): it moves to rejected/.
printf '{"govtrail_hook":1,"id":"v1-bad","started_us":"soon","stdin":"{}"}\n' > "$out/v1-bad.hook.json"
rm -f "$out/.decide.sock"
