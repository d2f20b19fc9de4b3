"""The ``harmony`` command: thin commands that parse, delegate to the Maestro or agent, and render."""
