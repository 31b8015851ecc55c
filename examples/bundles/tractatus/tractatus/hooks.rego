# Claude Code PreToolUse rules the Tractatus hooks enforce, as data
# (data.tractatus.config.hooks), and the replay of "hook_denial" audit records.
#
#   protected_paths - inst_027: .claude/instruction-history.json may not be
#       edited by the AI; validate-file-edit.js / validate-file-write.js block
#       Edit/Write on it (notes 3.1, 4.1; fixtures pretooluse-*.derived.json,
#       hook_denial record in auditLogs.derived.jsonl).
#   content_rules   - inst_008: Content Security Policy for .html/.js files
#       (no inline event handlers, inline styles, inline scripts, javascript:
#       URLs). Patterns from scripts/pre-action-check.js checkCSPCompliance()
#       @77ada423 (which blocks on any of them); notes 3.1 lists CSP among the
#       checks of validate-file-edit.js / validate-file-write.js; rule SEC-001
#       of sample-governance-rules.json (BLOCK_AND_REPORT).
#
# A rule is enforced while its instruction is in force (tractatus.lib.in_force):
# setting "active": false on inst_027 in the instruction set switches it off.
# Tools no rule names are allowed.
package tractatus.hooks

import rego.v1

import data.tractatus.lib

cfg := data.tractatus.config.hooks

tool_input(call) := object.get(call, "tool_input", {})

file_path(call) := p if {
	paths := [v | some f in cfg.path_fields; v := tool_input(call)[f]; is_string(v)]
	p := paths[0]
}

path_matches(fp, p) if fp == p

path_matches(fp, p) if endswith(fp, concat("", ["/", p]))

# Texts a tool call would write, per data.tractatus.config.hooks.content_fields
# ("edits[].new_string" = new_string of every element of edits).
contents(call) := [text |
	some spec in object.get(cfg.content_fields, call.tool_name, [])
	some text in field_texts(tool_input(call), spec)
]

field_texts(ti, spec) := [t |
	t := ti[spec]
	is_string(t)
] if {
	not contains(spec, "[].")
}

field_texts(ti, spec) := [t |
	some item in lib.as_array(ti[parts[0]])
	t := item[parts[1]]
	is_string(t)
] if {
	contains(spec, "[].")
	parts := split(spec, "[].")
}

pattern_hits(pat, text) if {
	not pat.unless_match
	regex.match(pat.regex, text)
}

pattern_hits(pat, text) if {
	pat.unless_match
	some m in regex.find_all_string_submatch_n(pat.regex, text, -1)
	not regex.match(pat.unless_match, m[0])
	trim_space(m[pat.nonempty_group]) != ""
}

violations(call) := {v |
	some r in cfg.protected_paths
	lib.in_force(r.rule)
	call.tool_name in r.tools
	fp := file_path(call)
	some p in r.paths
	path_matches(fp, p)
	v := {"rule": r.rule, "decision": r.decision, "reason": r.reason}
} | {v |
	some r in cfg.content_rules
	lib.in_force(r.rule)
	call.tool_name in r.tools
	fp := file_path(call)
	some ext in r.extensions
	endswith(lower(fp), ext)
	some text in contents(call)
	some pat in r.patterns
	pattern_hits(pat, text)
	v := {"rule": r.rule, "decision": r.decision, "reason": sprintf("%v (%v, %v)", [r.reason, pat.name, pat.severity])}
}

verdict(vs) := "deny" if {
	some v in vs
	v.decision == "deny"
} else := "ask" if {
	some v in vs
	v.decision == "ask"
} else := "allow"

evaluate(call) := lib.result(verdict(vs), reason, rules) if {
	vs := violations(call)
	count(vs) > 0
	reason := concat("; ", sort({v.reason | some v in vs}))
	rules := sort({v.rule | some v in vs})
} else := lib.result(object.get(cfg, "uncovered_tool", "defer"), sprintf("no rule of this bundle applies to %v", [object.get(call, "tool_name", "?")]), [])

# Decision for a Claude Code hook payload (replay input kind "claude_code").
claude_code_decision := evaluate(input) if {
	input.hook_event_name == "PreToolUse"
} else := lib.result(d, sprintf("no rule of this bundle gates %v", [input.hook_event_name]), []) if {
	d := cfg.events[input.hook_event_name]
} else := lib.result(cfg.other_events, sprintf("%v is not a decision point for this bundle", [input.hook_event_name]), []) if {
	is_string(input.hook_event_name)
} else := lib.not_replayable("claude_code input without hook_event_name")

# --- replay of Tractatus "hook_denial" audit records -------------------------
# metadata{tool, file_path, ...} is the denied tool call (notes 1.7, 2.3).

all_rules := array.concat(cfg.protected_paths, cfg.content_rules)

content_rule_ids := {r.rule | some r in cfg.content_rules}

md := lib.metadata

denial_call := {"hook_event_name": "PreToolUse", "tool_name": md.tool, "tool_input": object.remove(md, ["tool"])}

implemented := {id | some id in lib.as_array(object.get(input, "rules_checked", [])); some r in all_rules; r.rule == id}

missing_content if {
	some id in implemented
	id in content_rule_ids
	count(contents(denial_call)) == 0
}

hook_denial_decision := lib.not_replayable(sprintf("rule(s) %v of this denial are not implemented by the bundle's hook rules", [object.get(input, "rules_checked", [])])) if {
	count(implemented) == 0
} else := lib.not_replayable("hook_denial metadata carries no tool or file path") if {
	not file_path(denial_call)
} else := lib.not_replayable("hook_denial metadata carries no tool") if {
	not is_string(md.tool)
} else := lib.not_replayable("hook_denial for a content rule, but the metadata does not keep the written content") if {
	missing_content
} else := evaluate(denial_call)
