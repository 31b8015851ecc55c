# CrossReferenceValidator (audit action "cross_reference_validation").
#
# Follows src/services/CrossReferenceValidator.service.js @77ada423 (notes 1.3):
# parameters are extracted from the action text by regex, compared with the
# parameters of each relevant instruction (case-insensitive, trimmed), and HIGH
# persistence instructions add prohibition conflicts ("not X", "never X",
# "avoid X", "don't use X"). Any CRITICAL conflict -> REJECTED, else any
# WARNING -> WARNING, else APPROVED.
#
# Replay inputs: metadata.action_description (the action text, cut to 100
# characters by the service) and rules_checked (the ids of the instructions the
# service judged relevant), resolved in the bundle's instruction set. The
# recorded validation_status, validation_action, conflicts and conflict_details
# are recomputed, never read. An id the instruction set does not hold (or the
# placeholder "instruction" the service writes for unnamed instructions) makes
# the record not replayable: its parameters are unknown.
package tractatus.crossref

import rego.v1

import data.tractatus.lib

cfg := data.tractatus.config.crossref

md := lib.metadata

ids := [id | some id in lib.as_array(object.get(input, "rules_checked", []))]

unresolved := {id | some id in ids; not lib.instructions[id]}

description := md.action_description if is_string(md.action_description)

# Relevant instructions still active in this instruction set.
relevant[id] := inst if {
	some id in ids
	inst := lib.instructions[id]
	not lib.explicitly_inactive(id)
}

action_params[name] := value if {
	some name, pattern in cfg.action_parameter_patterns
	matches := regex.find_all_string_submatch_n(pattern, description, 1)
	count(matches) > 0
	value := matches[0][1]
}

norm(v) := lower(trim_space(lib.js_string(v)))

# _determineConflictSeverity
severity(param, inst) := "CRITICAL" if {
	inst.persistence == cfg.severity.critical_persistence
} else := "CRITICAL" if {
	object.get(inst, "recencyWeight", 0) > cfg.severity.recency_weight_above
	object.get(inst, "explicitness", 0) > cfg.severity.recency_explicitness_above
} else := "CRITICAL" if {
	param in {p | some p in cfg.severity.critical_params}
	object.get(inst, "explicitness", 0) > cfg.severity.critical_param_explicitness_above
} else := "WARNING" if {
	object.get(inst, "explicitness", 0) > cfg.severity.warning_explicitness_above
} else := "WARNING" if {
	inst.persistence == cfg.severity.warning_persistence
} else := "MINOR"

conflicts contains c if {
	some id, inst in relevant
	some param, action_value in action_params
	instruction_value := inst.parameters[param]
	norm(action_value) != norm(instruction_value)
	c := {
		"instruction": id,
		"parameter": param,
		"action_value": action_value,
		"instruction_value": instruction_value,
		"severity": severity(param, inst),
	}
}

conflicts contains c if {
	some id, inst in relevant
	inst.persistence == cfg.prohibition_persistence
	text := lower(object.get(inst, "text", ""))
	some pattern in cfg.prohibition_patterns
	some m in regex.find_all_string_submatch_n(pattern, text, -1)
	item := lower(m[1])
	some param, action_value in action_params
	value := lower(lib.js_string(action_value))
	prohibited(value, item)
	c := {
		"instruction": id,
		"parameter": param,
		"action_value": action_value,
		"instruction_value": sprintf("prohibited: %v", [item]),
		"severity": "CRITICAL",
	}
}

prohibited(value, item) if contains(value, item)

prohibited(value, item) if contains(item, value)

status := "REJECTED" if {
	some c in conflicts
	c.severity == "CRITICAL"
} else := "WARNING" if {
	some c in conflicts
	c.severity == "WARNING"
} else := "APPROVED"

fired := sort({c.instruction | some c in conflicts; c.severity in {"CRITICAL", "WARNING"}})

reason := sprintf("%v: %v relevant instruction(s) active, parameters %v, conflicts %v", [status, count(relevant), action_params, [[c.instruction, c.parameter, c.severity] | some c in conflicts]])

decision := lib.not_replayable(sprintf("relevant instruction(s) %v are not in the bundle's instruction set (their parameters are unknown)", [sort(unresolved)])) if {
	count(unresolved) > 0
} else := lib.not_replayable("cross_reference_validation record has no metadata.action_description") if {
	not description
} else := lib.result(data.tractatus.config.decision_map.cross_reference_validation[status], reason, fired)
