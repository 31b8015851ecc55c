# Claude Code hook payloads (PreToolUse rules inst_027 and inst_008, other
# events) and the replay of Tractatus hook_denial audit records.
package tractatus.tests.hooks

import rego.v1

pre(tool, ti) := d if {
	d := data.govtrail.decision with input as {
		"kind": "claude_code",
		"session_id": "5f0c9a52-8d1e-4c3b-9a77-2b6e1f4d8c10",
		"cwd": "/home/dev/tractatus",
		"permission_mode": "default",
		"hook_event_name": "PreToolUse",
		"tool_name": tool,
		"tool_input": ti,
	}
}

ih := "/home/dev/tractatus/.claude/instruction-history.json"

# --- inst_027 -----------------------------------------------------------------

test_edit_instruction_history_deny if {
	got := pre("Edit", {"file_path": ih, "old_string": "a", "new_string": "b"})
	got.decision == "deny"
	got.rules == ["inst_027"]
}

test_write_instruction_history_deny if {
	pre("Write", {"file_path": ih, "content": "{}"}).decision == "deny"
}

test_multiedit_relative_path_deny if {
	pre("MultiEdit", {"file_path": ".claude/instruction-history.json", "edits": []}).decision == "deny"
}

test_read_instruction_history_defer if {
	got := pre("Read", {"file_path": ih})
	got.decision == "defer"
	got.rules == []
}

test_similar_name_defer if {
	pre("Edit", {"file_path": "/home/dev/tractatus/docs/.claude/instruction-history.json.bak", "new_string": "x"}).decision == "defer"
	pre("Edit", {"file_path": "/home/dev/tractatus/my.claude/instruction-history.json", "new_string": "x"}).decision == "defer"
}

test_inst_027_deactivated_defer if {
	insts := array.concat(data.tractatus.instructions.instructions, [{"id": "inst_027", "text": "protect the instruction history", "active": false}])
	pre("Edit", {"file_path": ih, "new_string": "x"}).decision == "defer" with data.tractatus.instructions.instructions as insts
}

test_absent_instruction_not_enforced_when_configured if {
	pre("Edit", {"file_path": ih, "new_string": "x"}).decision == "defer" with data.tractatus.config.bundle.instruction_absent_means_in_force as false
}

# --- inst_008 (CSP) -------------------------------------------------------------

test_csp_inline_handler_deny if {
	got := pre("Write", {"file_path": "/home/dev/tractatus/public/index.html", "content": "<button onclick=\"go()\">Go</button>"})
	got.decision == "deny"
	got.rules == ["inst_008"]
	contains(got.reason, "Inline event handlers")
}

test_csp_inline_style_edit_deny if {
	pre("Edit", {"file_path": "/home/dev/tractatus/public/a.html", "old_string": "<p>", "new_string": "<p style=\"color: red\">"}).decision == "deny"
}

test_csp_javascript_url_deny if {
	pre("Write", {"file_path": "public/js/nav.js", "content": "el.innerHTML = '<a href=\"javascript:void(0)\">x</a>'"}).decision == "deny"
}

test_csp_inline_script_deny if {
	pre("Write", {"file_path": "public/b.html", "content": "<script>alert('hi')</script>"}).decision == "deny"
}

test_csp_script_with_src_defer if {
	pre("Write", {"file_path": "public/b.html", "content": "<script src=\"/js/app.js\"></script>"}).decision == "defer"
}

test_csp_empty_script_defer if {
	pre("Write", {"file_path": "public/b.html", "content": "<script type=\"text/template\">  </script>"}).decision == "defer"
}

test_csp_multiedit_deny if {
	pre("MultiEdit", {"file_path": "public/c.html", "edits": [{"old_string": "a", "new_string": "b"}, {"old_string": "c", "new_string": "<div onload='x()'>"}]}).decision == "deny"
}

test_csp_other_extension_defer if {
	pre("Write", {"file_path": "public/css/site.css", "content": "a { color: red } <div style=\"x\">"}).decision == "defer"
}

test_clean_html_defer if {
	pre("Write", {"file_path": "public/d.html", "content": "<link rel=\"stylesheet\" href=\"/css/site.css\"><p class=\"x\">ok</p>"}).decision == "defer"
}

test_protected_json_is_not_a_csp_file if {
	got := pre("Write", {"file_path": "/x/.claude/instruction-history.json", "content": "<a onclick=\"x()\">"})
	got.rules == ["inst_027"]
}

# --- other tools and events -----------------------------------------------------

test_bash_defer if pre("Bash", {"command": "ls -la"}).decision == "defer"

test_unknown_tool_defer if pre("mcp__srv__tool", {"x": 1}).decision == "defer"

test_uncovered_tool_allow_when_configured if {
	pre("Bash", {"command": "ls -la"}).decision == "allow" with data.tractatus.config.hooks.uncovered_tool as "allow"
}

test_user_prompt_submit_allow if {
	got := data.govtrail.decision with input as {"kind": "claude_code", "hook_event_name": "UserPromptSubmit", "prompt": "ff"}
	got.decision == "allow"
}

test_session_start_info if {
	got := data.govtrail.decision with input as {"kind": "claude_code", "hook_event_name": "SessionStart", "source": "startup"}
	got.decision == "info"
}

test_post_tool_use_info if {
	got := data.govtrail.decision with input as {"kind": "claude_code", "hook_event_name": "PostToolUse", "tool_name": "Edit", "tool_input": {"file_path": ih}}
	got.decision == "info"
}

test_no_event_defer if {
	got := data.govtrail.decision with input as {"kind": "claude_code", "tool_name": "Edit"}
	got.decision == "defer"
}

# --- hook_denial audit records --------------------------------------------------

denial(rules, md) := d if {
	d := data.govtrail.decision with input as {"kind": "tractatus", "service": "PreToolUseHook", "action": "hook_denial", "session_id": "5f0c9a52-8d1e-4c3b-9a77-2b6e1f4d8c10", "rules_checked": rules, "metadata": md}
}

test_denial_inst_027_deny if {
	got := denial(["inst_027"], {"tool": "Write", "file_path": ih})
	got.decision == "deny"
	got.rules == ["inst_027"]
}

test_denial_replayed_defer_when_rule_off if {
	insts := array.concat(data.tractatus.instructions.instructions, [{"id": "inst_027", "active": false}])
	denial(["inst_027"], {"tool": "Edit", "file_path": ih}).decision == "defer" with data.tractatus.instructions.instructions as insts
}

test_denial_unimplemented_rule_defer if {
	got := denial(["inst_022"], {"tool": "Bash", "command": "chmod 777 x"})
	got.decision == "defer"
	startswith(got.reason, "not replayable")
}

test_denial_content_rule_without_content_defer if {
	denial(["inst_008"], {"tool": "Write", "file_path": "public/a.html"}).decision == "defer"
}

test_denial_content_rule_with_content_deny if {
	denial(["inst_008"], {"tool": "Write", "file_path": "public/a.html", "content": "<a onclick=\"x()\">"}).decision == "deny"
}

test_denial_without_path_defer if {
	denial(["inst_027"], {"tool": "Edit"}).decision == "defer"
}
