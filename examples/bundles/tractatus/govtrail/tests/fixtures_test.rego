# Fixture records, pasted verbatim from
# shared/fixtures/tractatus/derived-from-code/ (constructed from the Tractatus
# code, not captured; see that folder's PROVENANCE.md), with the helpers that
# build the replay input (the bundle contract) and derive the recorded decision
# (RECORD 6.1 / 6.2) from a record. Used by the *_test.rego files.
package govtrail.tests.fixtures

import rego.v1

# auditLogs.derived.jsonl line 1
mongo_boundary_none := {"_id":"68fc3a10c1d2e3f4a5b6c701","sessionId":"2025-10-07-001","action":"boundary_enforcement","allowed":true,"rulesChecked":["inst_016","inst_017","inst_018"],"violations":[],"metadata":{"boundary":"none","domain":"TECHNICAL_IMPLEMENTATION","requirementType":"NONE","actionType":"file_edit","enforcement_decision":"ALLOWED"},"domain":"UNKNOWN","boundary":null,"tractatus_section":null,"durationMs":null,"service":"BoundaryEnforcer","userId":null,"ipAddress":null,"userAgent":null,"timestamp":"2025-10-25T03:19:07.261Z","createdAt":"2025-10-25T03:19:07.263Z","updatedAt":"2025-10-25T03:19:07.263Z","__v":0}

# auditLogs.derived.jsonl line 2
mongo_pressure_normal := {"_id":"68fc3a10c1d2e3f4a5b6c702","sessionId":"2025-10-07-001","action":"context_pressure_analysis","allowed":true,"rulesChecked":["inst_001","inst_002","inst_016","inst_017","inst_018","inst_049"],"violations":[],"metadata":{"overall_pressure":0.0325,"pressure_level":"NORMAL","pressure_level_numeric":0,"action_required":"PROCEED","verification_multiplier":1,"trend":"stable","metrics":{"token_usage":0,"conversation_length":0.01,"task_complexity":0.2,"error_frequency":0,"instruction_density":0},"top_metric":"taskComplexity","warnings_count":0,"recommendations_count":1},"domain":"UNKNOWN","boundary":null,"tractatus_section":null,"durationMs":null,"service":"ContextPressureMonitor","userId":null,"ipAddress":null,"userAgent":null,"timestamp":"2025-10-25T03:19:07.270Z","createdAt":"2025-10-25T03:19:07.272Z","updatedAt":"2025-10-25T03:19:07.272Z","__v":0}

# auditLogs.derived.jsonl line 3
mongo_classification := {"_id":"68fc3a10c1d2e3f4a5b6c703","sessionId":"classifier-service","action":"instruction_classification","allowed":true,"rulesChecked":["inst_001","inst_002","inst_016","inst_017","inst_018","inst_049"],"violations":[],"metadata":{"instruction_text":"always run the unit tests before committing","quadrant":"STRATEGIC","persistence":"HIGH","persistence_score":0.9,"explicitness":0.6,"verification":"MANDATORY","temporal_scope":"PERMANENT","source":"user","recency_weight":1,"parameters":{}},"domain":"UNKNOWN","boundary":null,"tractatus_section":null,"durationMs":null,"service":"InstructionPersistenceClassifier","userId":null,"ipAddress":null,"userAgent":null,"timestamp":"2025-10-25T03:21:40.002Z","createdAt":"2025-10-25T03:21:40.004Z","updatedAt":"2025-10-25T03:21:40.004Z","__v":0}

# auditLogs.derived.jsonl line 4
mongo_crossref_approved := {"_id":"68fc3a10c1d2e3f4a5b6c704","sessionId":"validator-service","action":"cross_reference_validation","allowed":true,"rulesChecked":["inst_001"],"violations":[],"metadata":{"action_description":"Connect to MongoDB on port 27017 for tractatus_dev","validation_status":"APPROVED","conflicts_found":0,"critical_conflicts":0,"relevant_instructions":1,"validation_action":"PROCEED","conflict_details":[]},"domain":"UNKNOWN","boundary":null,"tractatus_section":null,"durationMs":null,"service":"CrossReferenceValidator","userId":null,"ipAddress":null,"userAgent":null,"timestamp":"2025-10-25T03:22:01.118Z","createdAt":"2025-10-25T03:22:01.120Z","updatedAt":"2025-10-25T03:22:01.120Z","__v":0}

# auditLogs.derived.jsonl line 5
mongo_verifier_caution := {"_id":"68fc3a10c1d2e3f4a5b6c705","sessionId":"verifier-service","action":"metacognitive_verification","allowed":true,"rulesChecked":["inst_001","inst_002","inst_016","inst_017","inst_018","inst_049"],"violations":[],"metadata":{"action_description":"Refactor audit controller into three modules","confidence":0.71,"original_confidence":0.71,"decision":"PROCEED_WITH_CAUTION","level":"PROCEED_WITH_CAUTION","pressure_level":"NORMAL","pressure_adjustment":0,"checks":{"alignment":true,"coherence":true,"completeness":false,"safety":true,"alternatives":true},"critical_failures":0,"failed_checks":["Completeness"],"recommendations_count":3},"domain":"UNKNOWN","boundary":null,"tractatus_section":null,"durationMs":null,"service":"MetacognitiveVerifier","userId":null,"ipAddress":null,"userAgent":null,"timestamp":"2025-10-25T03:25:12.500Z","createdAt":"2025-10-25T03:25:12.503Z","updatedAt":"2025-10-25T03:25:12.503Z","__v":0}

# auditLogs.derived.jsonl line 6
mongo_hook_denial := {"_id":"68fc3a10c1d2e3f4a5b6c706","sessionId":"5f0c9a52-8d1e-4c3b-9a77-2b6e1f4d8c10","action":"hook_denial","allowed":false,"rulesChecked":["inst_027"],"violations":[{"ruleId":"inst_027","severity":"CRITICAL","details":"Direct edits to .claude/instruction-history.json are not permitted","_id":"68fc3a10c1d2e3f4a5b6c707"}],"metadata":{"tool":"Edit","file_path":"/home/dev/tractatus/.claude/instruction-history.json"},"domain":"UNKNOWN","boundary":null,"tractatus_section":null,"durationMs":null,"service":"PreToolUseHook","userId":null,"ipAddress":null,"userAgent":null,"timestamp":"2025-10-28T00:12:44.910Z","createdAt":"2025-10-28T00:12:44.913Z","updatedAt":"2025-10-28T00:12:44.913Z","__v":0}

# auditLogs.mongoexport.derived.jsonl line 1
export_boundary_none := {"_id":{"$oid":"68fc3a10c1d2e3f4a5b6c701"},"sessionId":"2025-10-07-001","action":"boundary_enforcement","allowed":true,"rulesChecked":["inst_016","inst_017","inst_018"],"violations":[],"metadata":{"boundary":"none","domain":"TECHNICAL_IMPLEMENTATION","requirementType":"NONE","actionType":"file_edit","enforcement_decision":"ALLOWED"},"domain":"UNKNOWN","boundary":null,"tractatus_section":null,"durationMs":null,"service":"BoundaryEnforcer","userId":null,"ipAddress":null,"userAgent":null,"timestamp":{"$date":"2025-10-25T03:19:07.261Z"},"createdAt":{"$date":"2025-10-25T03:19:07.263Z"},"updatedAt":{"$date":"2025-10-25T03:19:07.263Z"},"__v":0}

# auditLogs.mongoexport.derived.jsonl line 2
export_hook_denial := {"_id":{"$oid":"68fc3a10c1d2e3f4a5b6c706"},"sessionId":"5f0c9a52-8d1e-4c3b-9a77-2b6e1f4d8c10","action":"hook_denial","allowed":false,"rulesChecked":["inst_027"],"violations":[{"ruleId":"inst_027","severity":"CRITICAL","details":"Direct edits to .claude/instruction-history.json are not permitted","_id":{"$oid":"68fc3a10c1d2e3f4a5b6c707"}}],"metadata":{"tool":"Edit","file_path":"/home/dev/tractatus/.claude/instruction-history.json"},"domain":"UNKNOWN","boundary":null,"tractatus_section":null,"durationMs":null,"service":"PreToolUseHook","userId":null,"ipAddress":null,"userAgent":null,"timestamp":{"$date":"2025-10-28T00:12:44.910Z"},"createdAt":{"$date":"2025-10-28T00:12:44.913Z"},"updatedAt":{"$date":"2025-10-28T00:12:44.913Z"},"__v":0}

# decisions-2025-10-10.derived.jsonl line 1
legacy_boundary_mandatory := {"timestamp":"2025-10-10T01:02:03.004Z","sessionId":"boundary-enforcer-session","action":"boundary_enforcement","rulesChecked":["inst_016","inst_017","inst_018"],"violations":["VALUES"],"allowed":false,"metadata":{"boundary":"VALUES","domain":"VALUES","requirementType":"MANDATORY","actionType":"content_generation","tractatus_section":"inst_017","enforcement_decision":"BLOCKED"}}

# decisions-2025-10-10.derived.jsonl line 2
legacy_pressure_high := {"timestamp":"2025-10-10T01:02:05.120Z","sessionId":"pressure-monitor","action":"context_pressure_analysis","rulesChecked":["inst_001","inst_002"],"violations":["Suggest context refresh","Token budget critically low - consider context refresh"],"allowed":true,"metadata":{"overall_pressure":0.61,"pressure_level":"HIGH","pressure_level_numeric":2,"action_required":"MANDATORY_VERIFICATION","verification_multiplier":1.6,"metrics":{"token_usage":0.9,"conversation_length":0.6,"task_complexity":0.2,"error_frequency":0.3,"instruction_density":0.7},"top_metric":"tokenUsage","warnings_count":2,"recommendations_count":2}}

# pretooluse-input.derived.json
pretooluse_input := {
  "session_id": "5f0c9a52-8d1e-4c3b-9a77-2b6e1f4d8c10",
  "transcript_path": "/home/dev/.claude/projects/-home-dev-tractatus/5f0c9a52-8d1e-4c3b-9a77-2b6e1f4d8c10.jsonl",
  "cwd": "/home/dev/tractatus",
  "permission_mode": "default",
  "hook_event_name": "PreToolUse",
  "tool_name": "Edit",
  "tool_input": {
    "file_path": "/home/dev/tractatus/.claude/instruction-history.json",
    "old_string": "\"active\": true",
    "new_string": "\"active\": false",
    "replace_all": false
  },
  "tool_use_id": "toolu_01AbCdEfGhIjKlMnOpQrStUv"
}

# pretooluse-output-deny.derived.json
pretooluse_output := {
  "hookSpecificOutput": {
    "hookEventName": "PreToolUse",
    "permissionDecision": "deny",
    "permissionDecisionReason": "inst_027: direct edits to .claude/instruction-history.json are blocked; use the rule-management scripts"
  },
  "continue": true,
  "suppressOutput": false,
  "systemMessage": "Tractatus BoundaryEnforcer: governance file protected (inst_027)"
}

# --- replay input (bundle contract) ------------------------------------------

# Service from action for records written before the service field existed
# (legacy decisions-*.jsonl) - RECORD 8, notes 7.
inferred_service := {
	"boundary_enforcement": "BoundaryEnforcer",
	"context_pressure_analysis": "ContextPressureMonitor",
	"cross_reference_validation": "CrossReferenceValidator",
	"instruction_classification": "InstructionPersistenceClassifier",
	"metacognitive_verification": "MetacognitiveVerifier",
	"hook_denial": "PreToolUseHook",
}

tractatus_input(rec) := {
	"kind": "tractatus",
	"service": object.get(rec, "service", object.get(inferred_service, rec.action, null)),
	"action": rec.action,
	"session_id": rec.sessionId,
	"rules_checked": object.get(rec, "rulesChecked", []),
	"metadata": object.get(rec, "metadata", {}),
}

claude_code_input(payload) := object.union(payload, {"kind": "claude_code"})

# --- recorded decision, RECORD 6.2 (Tractatus) -------------------------------
# Written independently of the bundle's data.tractatus.config.decision_map.

native_map := {
	"boundary_enforcement": ["requirementType", {"NONE": "allow", "REVIEW_RECOMMENDED": "warn", "APPROVAL_REQUIRED": "ask", "MANDATORY": "escalate"}],
	"context_pressure_analysis": ["action_required", {"PROCEED": "allow", "INCREASE_VERIFICATION": "warn", "MANDATORY_VERIFICATION": "warn", "RECOMMEND_REFRESH": "warn", "REQUIRE_HUMAN_INTERVENTION": "escalate"}],
	"cross_reference_validation": ["validation_status", {"APPROVED": "allow", "WARNING": "warn", "REJECTED": "ask", "ESCALATE": "escalate"}],
	"metacognitive_verification": ["decision", {"PROCEED": "allow", "PROCEED_WITH_CAUTION": "warn", "REQUEST_CONFIRMATION": "ask", "REQUEST_CLARIFICATION": "ask", "REQUIRE_REVIEW": "escalate", "BLOCK": "deny"}],
}

fallback_map := {
	"boundary_enforcement": ["enforcement_decision", {"ALLOWED": "allow", "BLOCKED": "deny"}],
	"context_pressure_analysis": ["pressure_level", {"NORMAL": "allow", "ELEVATED": "warn", "HIGH": "warn", "CRITICAL": "warn", "DANGEROUS": "escalate"}],
	"cross_reference_validation": ["validation_action", {"PROCEED": "allow", "NOTIFY_USER": "warn", "REQUEST_CLARIFICATION": "ask", "REQUIRE_HUMAN_REVIEW": "escalate"}],
}

allowed_decision(rec) := "deny" if rec.allowed == false else := "allow"

recorded_decision(rec) := "info" if {
	rec.action == "instruction_classification"
} else := "deny" if {
	rec.action == "hook_denial"
	rec.allowed == false
} else := d if {
	[field, m] := native_map[rec.action]
	d := m[rec.metadata[field]]
} else := d if {
	[field, m] := fallback_map[rec.action]
	d := m[rec.metadata[field]]
} else := allowed_decision(rec)

# --- recorded decision, RECORD 6.1 row 5 (PreToolUse output JSON) ------------

hook_output_decision(out) := d if {
	d := out.hookSpecificOutput.permissionDecision
	d in {"allow", "deny", "ask", "defer"}
}
