"""POSIX shell quoting as shlex.quote and shlex.join give it, without shlex,
which imports re (about 7 ms of every `memlyze run` before the program)."""

# What a word may hold and need no quotes: shlex's safe set.
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-")


def quote(word: str) -> str:
    if not word:
        return "''"
    if all(character in _SAFE for character in word):
        return word
    # A single quote ends the quoted part, is given in double quotes, and
    # the quoted part starts again.
    return "'" + word.replace("'", "'\"'\"'") + "'"


def join(words) -> str:
    return " ".join(quote(word) for word in words)
