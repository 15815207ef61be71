"""Playbook learning: failure analysis (the failure report), playbook variants from its costliest pattern, the
offline comparison of a candidate version with promotion and rollback, the A/B split in serving, and the playbook
run statistics the learn job records."""
