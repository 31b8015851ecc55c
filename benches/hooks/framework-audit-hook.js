#!/usr/bin/env node
// A PreToolUse hook shaped like Tractatus's .claude/hooks/framework-audit-hook.js (see
// tests/fixtures/tractatus/PROVENANCE.md): reads the Claude Code payload from stdin, checks it
// and answers with hookSpecificOutput.permissionDecision (outputResponse). The same logic as
// tests/fixtures/hooks/audit_hook.py, in the language of the real hook, for benches/hook_overhead.py.
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const payload = JSON.parse(input);
  const ti = payload.tool_input || {};
  const target = String(ti.file_path || '') + ' ' + String(ti.command || '');
  if (target.includes('instruction-history.json')) {
    process.stdout.write(JSON.stringify({
      hookSpecificOutput: {
        hookEventName: 'PreToolUse',
        permissionDecision: 'deny',
        permissionDecisionReason: 'inst_027: direct edits to .claude/instruction-history.json are blocked',
      },
      continue: true,
      suppressOutput: false,
    }) + '\n');
    process.exit(0);
  }
  if (target.includes('rm -rf')) {
    process.stderr.write('inst_016: destructive command blocked\n');
    process.exit(2);
  }
  process.stdout.write(JSON.stringify({
    hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'allow' },
    continue: true,
  }) + '\n');
});
