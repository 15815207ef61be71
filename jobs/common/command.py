"""What every job shares: the memory it works on, progress bars, and the one-line JSON summary it ends with."""
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


def local_writer(memory_uri: str):
    from memory.store import connect
    from memory.writer import LocalWriter

    store = connect(memory_uri)
    return store, LocalWriter(store)


def rows_in(table: Any, column: str, values: list[str], columns: list[str], *, where: str | None = None,
            chunk: int = 500) -> list[dict[str, Any]]:
    """The rows whose `column` is one of `values` (and match `where`), read in chunks so each filter stays short."""
    from memory.store import sql_str

    rows: list[dict[str, Any]] = []
    for i in range(0, len(values), chunk):
        listed = ", ".join(sql_str(v) for v in values[i:i + chunk])
        condition = f"{column} IN ({listed})" + (f" AND {where}" if where else "")
        rows += table.search().where(condition).select(columns).limit(10_000_000).to_list()
    return rows
