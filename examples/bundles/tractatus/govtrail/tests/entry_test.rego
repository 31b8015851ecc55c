# The entrypoint is defined for every input.
package govtrail.tests.entry

import rego.v1

test_unknown_kind_defer if {
	got := data.govtrail.decision with input as {"kind": "opa"}
	got.decision == "defer"
	startswith(got.reason, "not replayable")
}

test_empty_input_defer if {
	got := data.govtrail.decision with input as {}
	got.decision == "defer"
}

test_unknown_action_defer if {
	# e.g. PluralisticDeliberationOrchestrator: its audit keys are not known
	# (notes 1.6), and it never decides ("AI facilitates, humans decide")
	got := data.govtrail.decision with input as {"kind": "tractatus", "service": "PluralisticDeliberationOrchestrator", "action": "pluralistic_deliberation", "session_id": "s", "rules_checked": [], "metadata": {}}
	got.decision == "defer"
	contains(got.reason, "pluralistic_deliberation")
}

test_dispatch_on_action_not_service if {
	# pre-2025-10-24 records say service BoundaryEnforcer for every action
	got := data.govtrail.decision with input as {"kind": "tractatus", "service": "BoundaryEnforcer", "action": "context_pressure_analysis", "session_id": "s", "rules_checked": [], "metadata": {"overall_pressure": 0.9}}
	got.decision == "escalate"
}

# Malformed records (null or wrong-typed fields) still get a decision, not an
# evaluation error.
test_malformed_inputs_defined if {
	inputs := [
		{"kind": "tractatus", "action": "boundary_enforcement", "metadata": null, "rules_checked": null},
		{"kind": "tractatus", "action": "cross_reference_validation", "metadata": "x", "rules_checked": null},
		{"kind": "tractatus", "action": "cross_reference_validation", "metadata": {"action_description": 5}, "rules_checked": ["inst_001"]},
		{"kind": "tractatus", "action": "context_pressure_analysis", "metadata": {"metrics": null, "overall_pressure": "high"}},
		{"kind": "tractatus", "action": "metacognitive_verification", "metadata": {"original_confidence": 0.9, "pressure_level": 7, "critical_failures": "x"}},
		{"kind": "tractatus", "action": "hook_denial", "metadata": null, "rules_checked": "inst_027"},
		{"kind": "tractatus", "action": "hook_denial", "metadata": {"tool": "Edit", "file_path": 5}, "rules_checked": ["inst_027"]},
		{"kind": "claude_code", "hook_event_name": "PreToolUse", "tool_name": "Edit", "tool_input": null},
		{"kind": "claude_code", "hook_event_name": "PreToolUse", "tool_name": "MultiEdit", "tool_input": {"file_path": "a.html", "edits": "x"}},
		{"kind": "claude_code", "hook_event_name": 5},
		{"kind": "tractatus"},
		[],
		"str",
	]
	every inp in inputs {
		got := data.govtrail.decision with input as inp
		got.decision in {"allow", "deny", "ask", "warn", "escalate", "defer", "info", "error"}
	}
}
