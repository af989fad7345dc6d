"""Text the TA's tools show: characters from a student that would act instead of print.

A student controls much of what the kit writes: folder names, exception messages, output.
Control characters in them act where the TA reads it: ESC ] 52 sets the TA's clipboard when a
CSV is `cat`ed or the log scrolls by, ESC ] 0 the window title, ESC ] 8 a hyperlink, CSI moves
the cursor or clears the screen (the 8-bit CSI, U+009B, too), a lone CR overwrites a line, and
bidirectional overrides (U+202E) make text read other than it is. Each such character (whatever
str.isprintable() refuses: Unicode's Other and Separator categories but the space) is written
as its Python escape (`\\x1b`, `\\u202e`): the TA sees it and nothing runs. Newlines and tabs stay.
"""
from __future__ import annotations

import re

SGR = re.compile(r"\x1b\[[0-9;]*m")  # colours only: nbconvert turns them into spans in pages


def visible(text: str, keep: str = "\n\t") -> str:
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in keep else ascii(ch)[1:-1] for ch in text)


def visible_keeping_colours(text: str) -> str:
    """visible(), but colour sequences stay (a page renders them; an error's traceback has them)."""
    parts = SGR.split(text)
    colours = SGR.findall(text)
    return "".join(visible(p) + (colours[i] if i < len(colours) else "") for i, p in enumerate(parts))
