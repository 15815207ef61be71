"""Prompt learning: the models a prompt job talks to, replays through the Claude path with one prompt pinned, the
LLM judge, the failure report's prompt-guideline rules, prompt candidates, the offline comparison of prompt versions
and the A/B split of prompt versions in serving."""
