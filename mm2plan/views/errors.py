"""One-line command errors (`error[code]: message` + hint), as Text: messages quote broker logs
and user input, so they are never parsed as markup."""

from __future__ import annotations

from rich.text import Text


def error_text(code: str, message: str, hint: str = "") -> Text:
    t = Text()
    t.append(f"error[{code}]", style="bold red")
    t.append(f": {message}")
    if hint:
        t.append("\n  = hint: ", style="cyan")
        t.append(hint)
    return t
