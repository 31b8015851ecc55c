# A small rule set of the kind a team starts with, for benches/src/bin/replay_bench.rs: the
# replay pipeline's own throughput, where evaluation is cheap. Claude Code calls: edits of
# protected files are denied, risky shell commands ask; Tractatus audit records: what the
# boundary enforcer blocked is denied. Everything else is allowed.
package govtrail

import rego.v1

protected := [".claude/instruction-history.json", ".env"]

risky := ["rm -rf", "git push --force", "| sh"]

default decision := {"decision": "allow", "reason": "no rule applies", "rules": []}

decision := {"decision": "deny", "reason": "edits of this file are not allowed", "rules": ["inst_027"]} if {
	input.kind == "claude_code"
	input.tool_name in {"Edit", "Write"}
	some p in protected
	endswith(input.tool_input.file_path, p)
}

decision := {"decision": "ask", "reason": "risky shell command", "rules": ["inst_016"]} if {
	input.kind == "claude_code"
	input.tool_name == "Bash"
	some r in risky
	contains(input.tool_input.command, r)
}

decision := {"decision": "deny", "reason": "the boundary enforcer blocked it", "rules": input.rules_checked} if {
	input.kind == "tractatus"
	input.metadata.enforcement_decision == "BLOCKED"
}
