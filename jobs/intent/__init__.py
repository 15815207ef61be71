"""What the learn job learns about intents from the episodes and their conversations: graph evidence (causes and
fixes), new phrasings, clarification thresholds and KB gaps; and the learn job's crash-safe batches."""
