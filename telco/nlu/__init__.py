"""Rule-based reading of customer text for the intent agent: clauses, entities, signals, slot answers,
and the calibration maths. Lexicons live in telco/data/nlu.yaml."""
