# MetacognitiveVerifier branches: PROCEED, PROCEED_WITH_CAUTION,
# REQUEST_CONFIRMATION, REQUIRE_REVIEW, BLOCK (critical failure, DANGEROUS
# pressure), pressure penalty, fallbacks, not replayable.
package tractatus.tests.verifier

import rego.v1

mv(md) := d if {
	d := data.govtrail.decision with input as {"kind": "tractatus", "service": "MetacognitiveVerifier", "action": "metacognitive_verification", "session_id": "verifier-service", "rules_checked": [], "metadata": md}
}

v(conf, level, crit) := {"original_confidence": conf, "pressure_level": level, "critical_failures": crit}

test_proceed_allow if mv(v(0.85, "NORMAL", 0)).decision == "allow"

test_proceed_with_caution_warn if mv(v(0.71, "NORMAL", 0)).decision == "warn"

test_request_confirmation_ask if mv(v(0.5, "NORMAL", 0)).decision == "ask"

test_require_review_escalate if mv(v(0.3, "NORMAL", 0)).decision == "escalate"

test_critical_failure_block_deny if {
	got := mv(v(0.95, "NORMAL", 1))
	got.decision == "deny"
	contains(got.reason, "BLOCK")
}

test_dangerous_pressure_block_deny if mv(v(0.95, "DANGEROUS", 0)).decision == "deny"

test_pressure_penalty if {
	# 0.85 - 0.10 (HIGH) = 0.75 -> PROCEED_WITH_CAUTION
	mv(v(0.85, "HIGH", 0)).decision == "warn"

	# 0.62 - 0.05 (ELEVATED) = 0.57 -> REQUEST_CONFIRMATION
	mv(v(0.62, "ELEVATED", 0)).decision == "ask"
}

test_recorded_decision_not_echoed if {
	md := object.union(v(0.9, "NORMAL", 0), {"decision": "BLOCK", "level": "REQUIRE_REVIEW", "confidence": 0.1})
	mv(md).decision == "allow"
}

test_confidence_fallback if {
	mv({"confidence": 0.65}).decision == "warn"
}

test_thresholds_are_data if {
	mv(v(0.71, "NORMAL", 0)).decision == "allow" with data.tractatus.config.verifier.confidence_levels as [{"below": 0.4, "decision": "REQUIRE_REVIEW"}, {"below": 0.6, "decision": "REQUEST_CONFIRMATION"}, {"below": 0.7, "decision": "PROCEED_WITH_CAUTION"}]
}

test_no_confidence_defer if {
	got := mv({"decision": "PROCEED"})
	got.decision == "defer"
	startswith(got.reason, "not replayable")
}
