# ContextPressureMonitor branches: every level of both threshold profiles,
# metrics vs overall_pressure, clamping, not replayable.
package tractatus.tests.pressure

import rego.v1

cpm(md) := d if {
	d := data.govtrail.decision with input as {"kind": "tractatus", "service": "ContextPressureMonitor", "action": "context_pressure_analysis", "session_id": "pressure-monitor", "rules_checked": [], "metadata": md}
}

# metrics giving an overall score of exactly x when x <= 0.35 (tokens only) or
# spread so the weighted sum is x (all five metrics = x -> sum of weights = 1)
flat(x) := {"metrics": {"token_usage": x, "conversation_length": x, "task_complexity": x, "error_frequency": x, "instruction_density": x}}

test_levels_service_code if {
	cpm(flat(0.1)).decision == "allow" # NORMAL -> PROCEED
	cpm(flat(0.35)).decision == "warn" # ELEVATED -> INCREASE_VERIFICATION
	cpm(flat(0.55)).decision == "warn" # HIGH -> MANDATORY_VERIFICATION
	cpm(flat(0.75)).decision == "warn" # CRITICAL -> RECOMMEND_REFRESH
	cpm(flat(0.9)).decision == "escalate" # DANGEROUS -> REQUIRE_HUMAN_INTERVENTION
}

test_reason_names_level if {
	contains(cpm(flat(0.75)).reason, "CRITICAL -> RECOMMEND_REFRESH")
	contains(cpm(flat(0.1)).reason, "NORMAL -> PROCEED")
}

test_thresholds_inclusive_service_code if {
	cpm({"overall_pressure": 0.3}).decision == "warn"
	cpm({"overall_pressure": 0.85}).decision == "escalate"
	cpm({"overall_pressure": 0.2999}).decision == "allow"
}

test_profile_ops_001 if {
	# OPS-001 (sample-governance-rules.json): NORMAL 0-40 %, ELEVATED 41-60 %,
	# HIGH 61-80 %, CRITICAL 81-95 %, DANGEROUS 96-100 %
	cpm({"overall_pressure": 0.35}).decision == "allow" with data.tractatus.config.pressure.profile as "ops_001"
	cpm({"overall_pressure": 0.45}).decision == "warn" with data.tractatus.config.pressure.profile as "ops_001"
	cpm({"overall_pressure": 0.9}).decision == "warn" with data.tractatus.config.pressure.profile as "ops_001"
	cpm({"overall_pressure": 0.96}).decision == "escalate" with data.tractatus.config.pressure.profile as "ops_001"
	contains(cpm({"overall_pressure": 0.9}).reason, "CRITICAL") with data.tractatus.config.pressure.profile as "ops_001"
}

test_profile_changes_decision if {
	# same record, changed bundle data: 0.35 is ELEVATED in the service code,
	# NORMAL under OPS-001
	cpm({"overall_pressure": 0.35}).decision == "warn"
	cpm({"overall_pressure": 0.35}).decision == "allow" with data.tractatus.config.pressure.profile as "ops_001"
}

test_metrics_win_over_overall_pressure if {
	md := object.union(flat(0.9), {"overall_pressure": 0.01, "pressure_level": "NORMAL", "action_required": "PROCEED"})
	cpm(md).decision == "escalate"
}

test_overall_pressure_when_metrics_incomplete if {
	cpm({"overall_pressure": 0.9, "metrics": {"token_usage": 0.1}}).decision == "escalate"
}

test_weights_are_data if {
	md := {"metrics": {"token_usage": 1, "conversation_length": 0, "task_complexity": 0, "error_frequency": 0, "instruction_density": 0}}
	cpm(md).decision == "warn" # 0.35 -> ELEVATED
	cpm(md).decision == "escalate" with data.tractatus.config.pressure.weights.token_usage as 0.9
}

test_clamped if {
	cpm({"metrics": {"token_usage": 5, "conversation_length": 5, "task_complexity": 5, "error_frequency": 5, "instruction_density": 5}}).decision == "escalate"
}

test_nothing_to_replay_defer if {
	got := cpm({"pressure_level": "HIGH", "action_required": "MANDATORY_VERIFICATION"})
	got.decision == "defer"
	startswith(got.reason, "not replayable")
}
