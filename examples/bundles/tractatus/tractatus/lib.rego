# Shared helpers for the Tractatus example bundle.
#
# Instruction set: data.tractatus.instructions (a verbatim copy of an
# instruction-history.json). Configuration: data.tractatus.config (see
# tractatus/config/README.md for where every number comes from).
package tractatus.lib

import rego.v1

cfg := data.tractatus.config

# Instructions of the bundle, by id (active and inactive).
instructions[id] := inst if {
	some inst in data.tractatus.instructions.instructions
	id := inst.id
}

# An instruction is switched off only when the instruction set lists it with
# "active": false. An id the set does not list is in force when
# bundle.instruction_absent_means_in_force is true (the shipped instruction set
# is partial: it does not list inst_008 or inst_027, whose enforcement the
# Tractatus hooks hard-code, notes 3.1).
explicitly_inactive(id) if instructions[id].active == false

in_force(id) if {
	instructions[id]
	not explicitly_inactive(id)
}

in_force(id) if {
	not instructions[id]
	cfg.bundle.instruction_absent_means_in_force == true
}

result(decision, reason, rules) := {"decision": decision, "reason": reason, "rules": rules}

not_replayable(why) := {
	"decision": "defer",
	"reason": concat("", ["not replayable: ", why]),
	"rules": [],
}

# JavaScript String(v) for the value kinds instruction parameters hold
# (arrays are joined with ","; nested arrays and objects inside an array are
# approximated, since Rego functions may not recurse).
js_string(v) := scalar_string(v) if {
	not is_array(v)
	not is_null(v)
}

js_string(v) := "null" if is_null(v)

js_string(v) := concat(",", [scalar_string(x) | some x in v]) if is_array(v)

scalar_string(v) := v if is_string(v)

scalar_string(v) := sprintf("%v", [v]) if is_number(v)

scalar_string(v) := sprintf("%v", [v]) if is_boolean(v)

scalar_string(v) := "[object Object]" if is_object(v)

scalar_string(v) := "" if is_null(v)

scalar_string(v) := sprintf("%v", [v]) if is_array(v)

# x when it is an array, else [] (records from other writers may hold null or
# a string where the service writes an array).
as_array(x) := x if is_array(x) else := []

# input.metadata when it is an object, else {}.
metadata := m if {
	m := input.metadata
	is_object(m)
} else := {}
