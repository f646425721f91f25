"""The ``cdpclient`` command: a thin typer layer over the :mod:`cdpclient` library."""
