-- Rule sets recorded in the ledger, with how many decisions ran under each.
SELECT r.rule_set, r.n_rules, r.version, r.source_format,
       (SELECT count(*) FROM decisions d WHERE d.rule_set = r.rule_set AND NOT d.is_rule_set) AS decisions_under
FROM rule_sets r
ORDER BY r.rule_set
