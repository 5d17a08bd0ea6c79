"""Secrets come only from the environment: a variable, or a file a variable names (read without trust, one line).
Nothing here ever puts a secret's value in a message."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import SettingsError, UnreadableInput
from ..files.inputs import read_text_input
from ..model.secret import Secret


def secret_from_environment(names: tuple[str, str], environ: Mapping[str, str]) -> Secret | None:
    """The secret of ``names`` (its variable, and the variable naming a file that holds it), or None when neither
    is set; a ``SettingsError`` that never shows the value when it cannot be used."""
    direct, file_var = names
    if environ.get(direct):
        return _one_line(Secret(environ[direct]), f"environment variable {direct}")
    path = environ.get(file_var)
    if not path:
        return None
    try:
        text = read_text_input(path, "secret file")
    except UnreadableInput as exc:
        reason = exc.problem.removeprefix("cannot read: ")
        raise SettingsError(f"environment variable {file_var}: cannot read {path}: {reason}") from None
    return _one_line(Secret(text.removesuffix("\n").removesuffix("\r")), f"environment variable {file_var} ({path})")


def _one_line(secret: Secret, where: str) -> Secret:
    """``secret`` if it can go into a header: one line without control characters. The error names where it came
    from and the line, never the value (an HTTP library's own error would print it)."""
    text = secret.reveal()
    if not text:
        raise SettingsError(f"{where}: the secret is empty")
    bad = next((index for index, char in enumerate(text) if (ord(char) < 32 and char != "\t") or ord(char) == 127),
               None)
    if bad is not None:
        raise SettingsError(f"{where}: the secret holds a line break or a control character (line "
                            f"{text.count(chr(10), 0, bad) + 1}); a token secret or password is one line")
    return secret


def both_secrets(environ: Mapping[str, str]) -> str:
    """The usage error for a token secret and a password both set: the login would use one and ignore the other."""
    pairs = (("PVE_TOKEN_VALUE", "PVE_TOKEN_VALUE_FILE"), ("PVE_PASSWORD", "PVE_PASSWORD_FILE"))
    token, password = (direct if environ.get(direct) else file_var for direct, file_var in pairs)
    return (f"environment variables {token} and {password} are both set: the login would use one and ignore the "
            "other; unset the one you do not mean")
