# BoundaryEnforcer (audit action "boundary_enforcement").
#
# Follows src/services/BoundaryEnforcer.service.js @77ada423 (notes 1.1):
# enforce() ends in one of _allowAction (NONE), _requireHumanReview
# (REVIEW_RECOMMENDED), _requireHumanApproval (APPROVAL_REQUIRED) or
# _requireHumanJudgment (MANDATORY). The audit record keeps what the service
# classified the action as: metadata.boundary (the violated Tractatus boundary,
# 12.1-12.6, "ERROR" for the fail-safe, or "none"), metadata.domain (the
# decision domain, or the boundary again for MANDATORY) and
# metadata.tractatus_section ("12.x", or inst_016/017/018 when a content rule
# fired). The action's text is not recorded, so the keyword and content checks
# cannot be re-run; replay re-applies the boundary and domain tables (data) to
# the recorded classification and recomputes requirementType and
# enforcement_decision. metadata.requirementType and
# metadata.enforcement_decision are never read.
package tractatus.boundary

import rego.v1

import data.tractatus.lib

cfg := data.tractatus.config.boundary

md := lib.metadata

boundary_names := {b | some b, _ in cfg.boundaries} | {b | some b in cfg.failsafe_boundaries}

recorded_boundary := b if {
	b := md.boundary
	is_string(b)
	b != "none"
}

recorded_domain := d if {
	d := md.domain
	is_string(d)
}

section := s if {
	s := md.tractatus_section
	is_string(s)
}

content_rule := section if section in {r | some r in cfg.content_rules}

# The boundary the action crossed (MANDATORY): from metadata.boundary, or from
# metadata.domain, which _requireHumanJudgment sets to the boundary as well.
crossed := recorded_boundary if recorded_boundary in boundary_names

crossed := recorded_domain if {
	not recorded_boundary
	upper(recorded_domain) in boundary_names
}

unknown_boundary if {
	recorded_boundary
	not recorded_boundary in boundary_names
}

allowed_domain if lower(recorded_domain) in {d | some d in cfg.allowed_domains}

requirement := "MANDATORY" if {
	crossed
} else := "NONE" if {
	allowed_domain
} else := r if {
	r := cfg.decision_domains[recorded_domain]
}

enforcement_decision := "ALLOWED" if requirement in {"NONE", "REVIEW_RECOMMENDED"}

enforcement_decision := "BLOCKED" if requirement in {"APPROVAL_REQUIRED", "MANDATORY"}

rules := [content_rule] if {
	requirement == "MANDATORY"
	content_rule
} else := []

reason := sprintf("boundary %v crossed (section %v): requirementType MANDATORY, enforcement %v", [crossed, object.get(md, "tractatus_section", "none"), enforcement_decision]) if {
	requirement == "MANDATORY"
} else := sprintf("decision domain %v: requirementType %v, enforcement %v", [recorded_domain, requirement, enforcement_decision])

decision := lib.not_replayable(sprintf("boundary_enforcement record names boundary %v, which the bundle does not know", [recorded_boundary])) if {
	unknown_boundary
} else := lib.not_replayable(sprintf("content rule %v is inactive in this instruction set; whether the action crosses another boundary depends on its text, which the audit record does not keep", [content_rule])) if {
	content_rule
	lib.explicitly_inactive(content_rule)
} else := lib.result(data.tractatus.config.decision_map.boundary_enforcement[requirement], reason, rules) if {
	requirement
} else := lib.not_replayable("boundary_enforcement record carries no boundary or decision domain the bundle knows (metadata.boundary/metadata.domain)")
