"""The thermostat's side: readings validated with the function's schema, kept in a durable spool
until the function's own answer settles them, and the read routes fetched, all signed.

    spool       the durable SQLite spool
    transport   HTTP to the Function URL: SigV4 signing, retries, no redirects, ``Answer``
    sender      ``ReadingClient``: what an answer removes from the spool, ``FlushReport``
    cli         the command line (``python -m handlers.device``), its exit codes
    client      an alias of the above for ``python -m handlers.device.client`` and old imports
"""
