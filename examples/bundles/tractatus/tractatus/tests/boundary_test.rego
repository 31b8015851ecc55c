# BoundaryEnforcer branches: _allowAction (NONE), _requireHumanReview
# (REVIEW_RECOMMENDED), _requireHumanApproval (APPROVAL_REQUIRED),
# _requireHumanJudgment (MANDATORY: boundary, domain-only, content rule,
# fail-safe ERROR), and the not-replayable cases.
package tractatus.tests.boundary

import rego.v1

be(md) := d if {
	d := data.govtrail.decision with input as {"kind": "tractatus", "service": "BoundaryEnforcer", "action": "boundary_enforcement", "session_id": "boundary-enforcer-session", "rules_checked": ["inst_016", "inst_017", "inst_018"], "metadata": md}
}

test_technical_implementation_allow if {
	be({"boundary": "none", "domain": "TECHNICAL_IMPLEMENTATION", "actionType": "file_edit"}).decision == "allow"
}

test_allowed_domain_allow if {
	# _isAllowedDomain: verification/support/.../system/technical, audited upper-cased
	be({"boundary": "none", "domain": "SYSTEM", "actionType": "config"}).decision == "allow"
	be({"boundary": "none", "domain": "VERIFICATION"}).decision == "allow"
}

test_user_communication_warn if {
	be({"boundary": "none", "domain": "USER_COMMUNICATION"}).decision == "warn"
}

test_approval_domains_ask if {
	every d in ["STRATEGIC", "VALUES_SENSITIVE", "RESOURCE_ALLOCATION", "POLICY_CREATION"] {
		be({"boundary": "none", "domain": d}).decision == "ask"
	}
}

test_boundary_crossed_escalate if {
	every b in ["VALUES", "INNOVATION", "WISDOM", "PURPOSE", "MEANING", "AGENCY"] {
		got := be({"boundary": b, "domain": b, "tractatus_section": "12.1"})
		got.decision == "escalate"
		got.rules == []
	}
}

test_domain_only_boundary_escalate if {
	# no metadata.boundary: _requireHumanJudgment sets domain to the boundary
	be({"domain": "WISDOM"}).decision == "escalate"
}

test_content_rule_escalate_with_rule if {
	got := be({"boundary": "VALUES", "domain": "VALUES", "tractatus_section": "inst_016"})
	got.decision == "escalate"
	got.rules == ["inst_016"]
}

test_failsafe_error_escalate if {
	be({"boundary": "ERROR", "domain": "ERROR"}).decision == "escalate"
}

test_unknown_boundary_defer if {
	got := be({"boundary": "COURAGE", "domain": "COURAGE"})
	got.decision == "defer"
	startswith(got.reason, "not replayable")
}

test_unknown_domain_defer if {
	be({"boundary": "none", "domain": "SOMETHING_ELSE"}).decision == "defer"
}

test_no_metadata_defer if {
	be({}).decision == "defer"
}

test_content_rule_deactivated_defer if {
	instructions := [{"id": "inst_017", "text": "no absolute assurances", "active": false}]
	got := be({"boundary": "VALUES", "domain": "VALUES", "tractatus_section": "inst_017"}) with data.tractatus.instructions.instructions as instructions
	got.decision == "defer"
}

test_domain_table_is_data if {
	# a changed bundle (data) changes the decision
	got := be({"boundary": "none", "domain": "USER_COMMUNICATION"}) with data.tractatus.config.boundary.decision_domains.USER_COMMUNICATION as "NONE"
	got.decision == "allow"
}
