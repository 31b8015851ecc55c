# InstructionPersistenceClassifier (audit action "instruction_classification").
#
# The classifier labels a new instruction (quadrant, persistence, temporal
# scope, verification); it is not a gate and always audits allowed:true
# (notes 1.4). RECORD 6.2 maps it to "info"; replay does the same, from
# data.tractatus.config.decision_map.instruction_classification.
package tractatus.classifier

import rego.v1

import data.tractatus.lib

md := lib.metadata

decision := lib.result(
	data.tractatus.config.decision_map.instruction_classification,
	sprintf("classification of an instruction (quadrant %v, persistence %v): not a gate", [object.get(md, "quadrant", "?"), object.get(md, "persistence", "?")]),
	[],
)
