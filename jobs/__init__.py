"""Offline Ray jobs that make the system better, each `python -m jobs.X` (or `ray job submit --working-dir . --
python -m jobs.X`), each ending with a one-line JSON summary on stdout. The modules at this level only read the
command line and call into the subpackages, which import downward: intent/ -> playbooks/ -> prompts/ -> common/.

- simulate: simulated customer contacts (fault catalogue x generated worlds x personas) through the HTTP API or the
  in-process agents; the planner writes their episodes (common/simulation, personas, scenario_mix).
- learn: playbook run statistics, knowledge-graph evidence, new intent phrasings, clarification thresholds and a
  KB-gap report from new episodes (watermark + ledger: nothing counted twice) (intent/learning).
- failures: failure points of failed episodes traced through the playbook graph, patterns ranked by cost, fixes
  proposed; prompt guidelines from the failed conversations' replies; `failure_patterns` table and a markdown report
  (playbooks/failures, prompts/guideline_rules).
- evolve: candidate playbook versions from the costliest pattern, gated on a small replay batch (playbooks/evolve);
  with --role, prompt candidates from the report's guidelines (rule-based, or reflective with a model), gated the
  same way (prompts/evolve).
- prompt_eval: candidate vs active on replayed contacts, promotion by a margin z-test with a minimum sample,
  A/B experiments served sticky per conversation, rollback (playbooks/versions, playbooks/split); with --role,
  prompt versions replayed through the Claude path, reply metrics and an LLM judge in one Message Batch
  (prompts/versions), or served as an A/B split on the Claude path and decided from the episodes each version
  served (prompts/split).
"""
