"""What every job shares, at the bottom of jobs/: the command line and summary line, reading memory (tables,
episodes, playbook versions), the trace of an episode through its playbook, the A/B decision rule and the
decision log, the offline metrics of a replayed arm, and the simulated traffic (scenario mix, personas)."""
