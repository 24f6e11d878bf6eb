"""Operator files → validated values. I/O at boot only; what it returns is pure."""
