"""``interphone-cli``: a command-line Interphone client (sync, members, talk, listen, bot)."""
