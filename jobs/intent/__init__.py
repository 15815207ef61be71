"""What the learn job learns about intents from the episodes and their conversations: graph evidence (causes and
fixes), new phrasings, clarification thresholds and KB gaps; the learn job's crash-safe batches; and the publish
gate that takes learned phrasings into the example set the intent agent serves (publish.py)."""
