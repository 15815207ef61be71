"""`python -m serve.urls`: the web screens' addresses for the running app (`make run` prints them after `telco up`)."""
from __future__ import annotations

from telco.config import Settings, get_settings

SCREENS = (("customer chat", "/chat", "a customer key"),
           ("agent desk", "/desk", "an operations key"),
           ("operations", "/ops", "an operations key"))


def screen_urls(settings: Settings) -> list[str]:
    base = settings.serve.url
    return [f"  {name:<14} {base}{path}   ({key})" for name, path, key in SCREENS]


def main() -> None:
    print("Web screens (enter the key once; it stays in that browser tab):")
    print("\n".join(screen_urls(get_settings())))


if __name__ == "__main__":
    main()
