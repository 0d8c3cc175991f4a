"""MiniStack, a second emulator beside LocalStack 4.14: one Python process, no Docker, started by
``make ministack`` (left running) and by the ``ministack`` test tier (``make test-ministack``).

- ``install``: a virtualenv of its own (``.venv-ministack``: MiniStack pins botocore exactly)
  with MiniStack and the ``aws`` CLI;
- ``server``: MiniStack on 127.0.0.1, then the generated ready hook (``devstack/localstack/
  ready.sh``) run against it, the same resources LocalStack's hook creates.

MiniStack's own Lambda is not used: the router invokes the functions, as with LocalStack.
"""
