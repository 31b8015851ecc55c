# Replays every record of shared/fixtures/tractatus/derived-from-code/ against
# the bundle: the replay input is built from the record as the bundle contract
# says, and data.govtrail.decision must equal the decision RECORD 6.1/6.2
# derives from the record (and the literal value listed in
# /tmp/notes/tractatus-bundle.md).
package govtrail.tests.replay

import rego.v1

import data.govtrail.tests.fixtures as fx

replayed(rec) := d if {
	d := data.govtrail.decision with input as fx.tractatus_input(rec)
}

same_as_recorded(rec, expected) if {
	got := replayed(rec)
	got.decision == fx.recorded_decision(rec)
	got.decision == expected
}

# auditLogs.derived.jsonl

test_mongo_boundary_none_allow if {
	same_as_recorded(fx.mongo_boundary_none, "allow")
	replayed(fx.mongo_boundary_none).rules == []
}

test_mongo_pressure_normal_allow if same_as_recorded(fx.mongo_pressure_normal, "allow")

test_mongo_classification_info if same_as_recorded(fx.mongo_classification, "info")

test_mongo_crossref_approved_allow if {
	same_as_recorded(fx.mongo_crossref_approved, "allow")
	replayed(fx.mongo_crossref_approved).rules == []
}

test_mongo_verifier_caution_warn if same_as_recorded(fx.mongo_verifier_caution, "warn")

test_mongo_hook_denial_deny if {
	same_as_recorded(fx.mongo_hook_denial, "deny")
	replayed(fx.mongo_hook_denial).rules == ["inst_027"]
}

# auditLogs.mongoexport.derived.jsonl (same documents, Extended JSON v2; the
# metadata objects carry no wrappers)

test_export_boundary_none_allow if same_as_recorded(fx.export_boundary_none, "allow")

test_export_hook_denial_deny if {
	same_as_recorded(fx.export_hook_denial, "deny")
	replayed(fx.export_hook_denial).rules == ["inst_027"]
}

# decisions-2025-10-10.derived.jsonl (legacy, no service field: inferred)

test_legacy_boundary_mandatory_escalate if {
	same_as_recorded(fx.legacy_boundary_mandatory, "escalate")
	replayed(fx.legacy_boundary_mandatory).rules == ["inst_017"]
}

test_legacy_pressure_high_warn if same_as_recorded(fx.legacy_pressure_high, "warn")

test_legacy_service_inferred if {
	fx.tractatus_input(fx.legacy_boundary_mandatory).service == "BoundaryEnforcer"
	fx.tractatus_input(fx.legacy_pressure_high).service == "ContextPressureMonitor"
}

# pretooluse-input.derived.json + pretooluse-output-deny.derived.json

test_pretooluse_pair_deny if {
	got := data.govtrail.decision with input as fx.claude_code_input(fx.pretooluse_input)
	got.decision == fx.hook_output_decision(fx.pretooluse_output)
	got.decision == "deny"
	got.rules == ["inst_027"]
}

# The output-side fields are recomputed, not echoed: contradicting them does
# not change the replayed decision.
test_output_fields_not_echoed if {
	rec := fx.mongo_boundary_none
	inp := fx.tractatus_input(rec)
	lying := object.union(inp, {"metadata": object.union(inp.metadata, {"requirementType": "MANDATORY", "enforcement_decision": "BLOCKED"})})
	got := data.govtrail.decision with input as lying
	got.decision == "allow"
}

test_pressure_output_fields_not_echoed if {
	inp := fx.tractatus_input(fx.legacy_pressure_high)
	lying := object.union(inp, {"metadata": object.union(inp.metadata, {"pressure_level": "NORMAL", "action_required": "PROCEED", "overall_pressure": 0.01})})
	got := data.govtrail.decision with input as lying
	got.decision == "warn"
}

# Every fixture record yields a well-formed decision object.
test_all_fixtures_well_formed if {
	recs := [fx.mongo_boundary_none, fx.mongo_pressure_normal, fx.mongo_classification, fx.mongo_crossref_approved, fx.mongo_verifier_caution, fx.mongo_hook_denial, fx.export_boundary_none, fx.export_hook_denial, fx.legacy_boundary_mandatory, fx.legacy_pressure_high]
	every rec in recs {
		got := replayed(rec)
		got.decision in {"allow", "deny", "ask", "warn", "escalate", "defer", "info", "error"}
		is_string(got.reason)
		is_array(got.rules)
	}
}
