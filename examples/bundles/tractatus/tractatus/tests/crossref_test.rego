# CrossReferenceValidator branches: APPROVED (no conflict, minor conflict, no
# active relevant instruction), WARNING, REJECTED (parameter conflict with a
# HIGH persistence instruction, prohibition), not replayable.
package tractatus.tests.crossref

import rego.v1

crv(ids, desc) := d if {
	d := data.govtrail.decision with input as {"kind": "tractatus", "service": "CrossReferenceValidator", "action": "cross_reference_validation", "session_id": "validator-service", "rules_checked": ids, "metadata": {"action_description": desc, "validation_status": "APPROVED", "validation_action": "PROCEED"}}
}

test_same_port_approved if {
	got := crv(["inst_001"], "Connect to MongoDB on port 27017 for tractatus_dev")
	got.decision == "allow"
	got.rules == []
}

test_27027_rejected_ask if {
	# the "27027" failure mode: instruction says 27017 (HIGH persistence), action
	# uses another port -> CRITICAL conflict -> REJECTED -> REQUEST_CLARIFICATION
	got := crv(["inst_001"], "mongosh --port 27027 tractatus_dev")
	got.decision == "ask"
	got.rules == ["inst_001"]
	contains(got.reason, "REJECTED")
}

test_port_with_colon_rejected if {
	crv(["inst_001"], "set port: 27018 in .env").decision == "ask"
}

instr(extra) := object.union({"id": "inst_900", "text": "use the staging path", "persistence": "LOW", "explicitness": 0.5, "active": true, "parameters": {}}, extra)

test_warning_warn if {
	# not HIGH, not a critical parameter, explicitness > 0.6 -> WARNING
	inst := instr({"explicitness": 0.7, "parameters": {"path": "/srv/staging"}})
	got := crv(["inst_900"], "copy build to /srv/production") with data.tractatus.instructions.instructions as [inst]
	got.decision == "warn"
	got.rules == ["inst_900"]
}

test_medium_persistence_warn if {
	inst := instr({"persistence": "MEDIUM", "parameters": {"path": "/srv/staging"}})
	crv(["inst_900"], "copy build to /srv/production").decision == "warn" with data.tractatus.instructions.instructions as [inst]
}

test_critical_param_explicit_ask if {
	inst := instr({"persistence": "MEDIUM", "explicitness": 0.7, "parameters": {"port": "9000"}})
	crv(["inst_900"], "start server on port 8080").decision == "ask" with data.tractatus.instructions.instructions as [inst]
}

test_minor_conflict_allow if {
	inst := instr({"parameters": {"path": "/srv/staging"}})
	got := crv(["inst_900"], "copy build to /srv/production") with data.tractatus.instructions.instructions as [inst]
	got.decision == "allow"
	got.rules == []
}

test_prohibition_ask if {
	inst := instr({"text": "Avoid localhost in service configuration", "persistence": "HIGH"})
	got := crv(["inst_900"], "set host=localhost for the api") with data.tractatus.instructions.instructions as [inst]
	got.decision == "ask"
	got.rules == ["inst_900"]
}

test_inactive_instruction_ignored if {
	inst := instr({"persistence": "HIGH", "parameters": {"port": "27017"}, "active": false})
	crv(["inst_900"], "mongosh --port 27027").decision == "allow" with data.tractatus.instructions.instructions as [inst]
}

test_changed_instruction_flips if {
	# same record, instruction parameter changed in the bundle -> REJECTED
	insts := [object.union(i, {"parameters": {"port": "27027"}}) | some i in data.tractatus.instructions.instructions; i.id == "inst_001"]
	crv(["inst_001"], "Connect to MongoDB on port 27017 for tractatus_dev").decision == "ask" with data.tractatus.instructions.instructions as insts
}

test_unnamed_instruction_defer if {
	got := crv(["instruction"], "mongosh --port 27027")
	got.decision == "defer"
	startswith(got.reason, "not replayable")
}

test_unknown_instruction_defer if {
	crv(["inst_001", "inst_404"], "mongosh --port 27017").decision == "defer"
}

test_no_description_defer if {
	got := data.govtrail.decision with input as {"kind": "tractatus", "action": "cross_reference_validation", "rules_checked": ["inst_001"], "metadata": {}}
	got.decision == "defer"
}
