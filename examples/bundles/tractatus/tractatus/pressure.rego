# ContextPressureMonitor (audit action "context_pressure_analysis").
#
# Follows src/services/ContextPressureMonitor.service.js @77ada423 (notes 1.2):
# overall = clamp01(sum of normalised metric x weight), in the service's order
# (tokens, conversation, complexity, errors, instruction density); the level is
# the highest threshold reached; the level names the required action. The audit
# record keeps the five normalised metrics (metadata.metrics); replay re-weighs
# them with the bundle's weights and thresholds. When the metrics are missing,
# metadata.overall_pressure is the input. metadata.pressure_level,
# pressure_level_numeric, action_required and verification_multiplier are
# recomputed, never read.
#
# Threshold profiles (data.tractatus.config.pressure.profiles):
#   service_code - PRESSURE_LEVELS of the service (0.3/0.5/0.7/0.85, >=);
#   ops_001      - read from rule OPS-001 of data.tractatus.rules
#                  ("41-60%" = above 40 %, i.e. 40/60/80/95 %).
package tractatus.pressure

import rego.v1

import data.tractatus.lib

cfg := data.tractatus.config.pressure

md := lib.metadata

metric_names := ["token_usage", "conversation_length", "task_complexity", "error_frequency", "instruction_density"]

metrics_complete if {
	m := md.metrics
	every k in metric_names {
		is_number(m[k])
	}
}

clamp01(x) := 1 if {
	x > 1
} else := 0 if {
	x < 0
} else := x

score := clamp01(s) if {
	metrics_complete
	m := md.metrics
	w := cfg.weights

	# Same order of additions as _calculateOverallPressure (IEEE doubles).
	s := ((((0 + (m.token_usage * w.token_usage)) + (m.conversation_length * w.conversation_length)) + (m.task_complexity * w.task_complexity)) + (m.error_frequency * w.error_frequency)) + (m.instruction_density * w.instruction_density)
} else := md.overall_pressure if {
	is_number(md.overall_pressure)
}

score_source := "metadata.metrics" if metrics_complete else := "metadata.overall_pressure"

# Threshold list of the active profile.
thresholds := cfg.profiles[cfg.profile].thresholds

thresholds := [t |
	some lvl, span in ops_rule.thresholds
	parts := split(trim_suffix(span, "%"), "-")
	low := to_number(parts[0])
	low > 0
	t := {"level": lvl, "min": (low - 1) / 100, "inclusive": false}
] if {
	ops_rule
}

ops_rule := r if {
	rule_id := cfg.profiles[cfg.profile].from_rule
	some r in data.tractatus.rules.rules
	r.rule_id == rule_id
}

reached(t, x) if {
	t.inclusive == true
	x >= t.min
}

reached(t, x) if {
	t.inclusive == false
	x > t.min
}

reached_levels := {t.level | some t in thresholds; reached(t, score)}

level := l if {
	some l in reached_levels
	every other in reached_levels {
		cfg.levels[other].numeric <= cfg.levels[l].numeric
	}
} else := cfg.base_level if {
	score
}

action_required := cfg.levels[level].action

decision := lib.result(
	data.tractatus.config.decision_map.context_pressure_analysis[action_required],
	sprintf("pressure %v (from %v, profile %v) -> %v -> %v", [score, score_source, cfg.profile, level, action_required]),
	[],
) if {
	action_required
} else := lib.not_replayable("context_pressure_analysis record carries neither metadata.metrics nor a numeric metadata.overall_pressure")
