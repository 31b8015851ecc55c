# MetacognitiveVerifier (audit action "metacognitive_verification").
#
# Follows _adjustForPressure and _makeVerificationDecision in
# src/services/MetacognitiveVerifier.service.js @77ada423 (notes 1.5):
#   adjusted = max(0, confidence - reduction[pressure level]);
#   any CRITICAL dimension failure -> BLOCK; DANGEROUS pressure -> BLOCK;
#   adjusted < 0.4 REQUIRE_REVIEW, < 0.6 REQUEST_CONFIRMATION,
#   < 0.8 PROCEED_WITH_CAUTION, else PROCEED.
#
# Replay inputs: metadata.original_confidence (the weighted score of the five
# dimensions, before the pressure penalty), metadata.pressure_level and
# metadata.critical_failures (count of CRITICAL dimension failures). The
# reasoning the scores came from is not recorded, so the dimension scores
# themselves cannot be recomputed: replay re-applies the penalty table and the
# decision thresholds. metadata.decision, level and confidence are recomputed
# (confidence is used only when original_confidence is missing).
package tractatus.verifier

import rego.v1

import data.tractatus.lib

cfg := data.tractatus.config.verifier

md := lib.metadata

pressure_level := md.pressure_level if is_string(md.pressure_level) else := "NORMAL"

reduction := r if {
	r := cfg.pressure_reduction[pressure_level]
} else := 0

confidence := max([0, md.original_confidence - reduction]) if {
	is_number(md.original_confidence)
} else := md.confidence if {
	is_number(md.confidence)
}

confidence_source := "metadata.original_confidence" if is_number(md.original_confidence) else := "metadata.confidence"

critical_failures := md.critical_failures if is_number(md.critical_failures) else := 0

verdict := "BLOCK" if {
	critical_failures > 0
} else := "BLOCK" if {
	pressure_level in {l | some l in cfg.block_pressure_levels}
} else := d if {
	below := [l.decision | some l in cfg.confidence_levels; confidence < l.below]
	count(below) > 0

	# confidence_levels are listed from the lowest bound up; the first one that
	# holds wins, as in the service's if-chain.
	d := below[0]
} else := cfg.top_decision if {
	confidence
}

reason := sprintf("confidence %v (from %v, pressure %v, penalty %v), critical failures %v -> %v", [confidence, confidence_source, pressure_level, reduction, critical_failures, verdict])

decision := lib.result(data.tractatus.config.decision_map.metacognitive_verification[verdict], reason, []) if {
	confidence
} else := lib.not_replayable("metacognitive_verification record carries no numeric metadata.original_confidence or metadata.confidence")
