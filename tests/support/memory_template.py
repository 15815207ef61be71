"""Bootstrapped memory for test modules, from one template per test process.

Bootstrapping embeds the whole knowledge base and the intent catalogue (10-20 s on a 2-core machine), and every
module that starts the system needs a memory of its own. The first call bootstraps a template; later calls copy it
(a LanceDB directory at rest is plain files) and bootstrap over the copy, which finds nothing new to embed: the
module gets what a fresh bootstrap writes, in well under a second.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_template: Path | None = None


def bootstrapped_memory(uri: str | Path) -> str:
    """Memory at `uri` (a new or empty directory) as bootstrap leaves it; returns the URI as a string."""
    global _template
    from memory.bootstrap import memory_bootstrap
    from telco.config import Settings

    if _template is None:
        root = Path(tempfile.mkdtemp(prefix="telco-memory-template-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        memory_bootstrap(Settings(memory_uri=str(root / "memory")))
        _template = root / "memory"
    shutil.copytree(_template, uri, dirs_exist_ok=True)
    memory_bootstrap(Settings(memory_uri=str(uri)))
    return str(uri)
