"""Every data file of the system, named in one place. Code reads data through these names, never through a path
built from its own location, so a file can move without a hunt through the packages.

Layout: settings and catalogues at the top; kb/ (the manuals), prompts/ (system prompts), playbooks/ (flows),
sandbox/ (the simulated operator's world), scenarios/ (the scenario suites).
"""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent

# settings and catalogues
BACKENDS_FILE = DATA_DIR / "backends.yaml"
DIAGNOSIS_FILE = DATA_DIR / "diagnosis.yaml"
ESCALATION_FILE = DATA_DIR / "escalation.yaml"
INCIDENTS_FILE = DATA_DIR / "incidents.yaml"
INTENT_CALIBRATION_FILE = DATA_DIR / "intent_calibration.yaml"
INTENT_DEV_FILE = DATA_DIR / "intent_dev.yaml"
INTENTS_FILE = DATA_DIR / "intents.yaml"
JUDGE_RUBRIC_FILE = DATA_DIR / "judge_rubric.md"
KG_SEED_FILE = DATA_DIR / "kg_seed.yaml"
KNOWLEDGE_FILE = DATA_DIR / "knowledge.yaml"
LLM_PRICES_FILE = DATA_DIR / "llm_prices.yaml"
MONITOR_FILE = DATA_DIR / "monitor.yaml"
NLU_FILE = DATA_DIR / "nlu.yaml"
POLICY_FILE = DATA_DIR / "policy.yaml"
PROMPT_GUIDELINES_FILE = DATA_DIR / "prompt_guidelines.yaml"
RETRIEVAL_EVAL_FILE = DATA_DIR / "retrieval_eval.yaml"
ROUTING_FILE = DATA_DIR / "routing.yaml"
SCOPE_FILE = DATA_DIR / "scope.yaml"
TEMPLATES_FILE = DATA_DIR / "templates.yaml"
TRAFFIC_FILE = DATA_DIR / "traffic.yaml"

# folders of documents
KB_DIR = DATA_DIR / "kb"
PROMPTS_DIR = DATA_DIR / "prompts"
PLAYBOOKS_DIR = DATA_DIR / "playbooks"
SCENARIOS_DIR = DATA_DIR / "scenarios"

# the simulated operator
SANDBOX_DIR = DATA_DIR / "sandbox"
CUSTOMER_STEPS_FILE = SANDBOX_DIR / "customer_steps.yaml"
DEMO_WORLD_FILE = SANDBOX_DIR / "demo_world.yaml"
FAULTS_FILE = SANDBOX_DIR / "faults.yaml"
GENERATOR_PROFILE_FILE = SANDBOX_DIR / "generator.yaml"
