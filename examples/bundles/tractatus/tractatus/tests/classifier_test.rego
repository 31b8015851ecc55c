package tractatus.tests.classifier

import rego.v1

test_classification_info if {
	got := data.govtrail.decision with input as {"kind": "tractatus", "service": "InstructionPersistenceClassifier", "action": "instruction_classification", "session_id": "classifier-service", "rules_checked": [], "metadata": {"quadrant": "SYSTEM", "persistence": "HIGH"}}
	got.decision == "info"
	got.rules == []
}

test_classification_without_metadata_info if {
	got := data.govtrail.decision with input as {"kind": "tractatus", "action": "instruction_classification"}
	got.decision == "info"
}
