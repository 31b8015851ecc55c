# Entrypoint of the Tractatus example bundle: data.govtrail.decision.
#
# Input (govtrail replay):
#   Tractatus audit record: {"kind": "tractatus", "service", "action",
#     "session_id", "rules_checked", "metadata"}  (metadata verbatim)
#   Claude Code hook payload: {"kind": "claude_code", ...stdin payload verbatim}
# Output: {"decision": allow|deny|ask|warn|escalate|defer|info|error,
#          "reason": string, "rules": [instruction ids the decision rests on]}
#
# Tractatus records are dispatched on "action", not "service": before
# 2025-10-24 every audit record said service "BoundaryEnforcer" (notes 2.5 q4),
# and RECORD 6.2 chooses the native field by action as well.
package govtrail

import rego.v1

import data.tractatus.boundary
import data.tractatus.classifier
import data.tractatus.crossref
import data.tractatus.hooks
import data.tractatus.lib
import data.tractatus.pressure
import data.tractatus.verifier

default decision := {
	"decision": "defer",
	"reason": "not replayable: input is neither a Tractatus audit record nor a Claude Code hook payload",
	"rules": [],
}

decision := tractatus_decision if input.kind == "tractatus"

decision := hooks.claude_code_decision if input.kind == "claude_code"

tractatus_decision := boundary.decision if {
	input.action == "boundary_enforcement"
} else := pressure.decision if {
	input.action == "context_pressure_analysis"
} else := crossref.decision if {
	input.action == "cross_reference_validation"
} else := verifier.decision if {
	input.action == "metacognitive_verification"
} else := classifier.decision if {
	input.action == "instruction_classification"
} else := hooks.hook_denial_decision if {
	input.action == "hook_denial"
} else := lib.not_replayable(sprintf("action %v (service %v): the bundle has no rules for it and the audit metadata does not say what the service decided on", [object.get(input, "action", null), object.get(input, "service", null)]))
