# fails: type check
"""A port given as a string."""

from harmony import Port

ssh_port = Port("22")  # expect-error
