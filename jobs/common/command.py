"""The command line every job shares: the memory option, progress bars on stderr, and the one-line JSON summary
each job ends with on stdout."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Iterable, TypeVar

T = TypeVar("T")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--memory-uri", default=os.environ.get("TELCO_MEMORY_URI", "./var/memory"),
                   help="LanceDB memory (directory or s3:// URI); default TELCO_MEMORY_URI")
    return p


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterable[T]:
    """A tqdm bar on stderr, so stdout keeps only the report lines and the JSON summary."""
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, file=sys.stderr, mininterval=1.0)


def print_summary(summary: dict[str, Any]) -> None:
    """The last line of every job's stdout: one JSON object."""
    print(json.dumps(summary, sort_keys=True, default=str), flush=True)
