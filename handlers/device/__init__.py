"""The thermostat's side: readings validated with the function's schema, kept in a durable spool
until the function's own answer settles them, and the read routes fetched, all signed.

    spool       the durable SQLite spool: damaged files moved aside, bad rows quarantined
    lock        one flush at a time per spool (``fcntl.flock``)
    clock       ``BUILD_DATE``; readings whose time is obviously wrong are flagged
    transport   HTTP to the Function URL: SigV4 signing, retries, no redirects, ``Answer``
    sender      ``ReadingClient``: what an answer removes from the spool, ``FlushReport``
    exits       the exit codes, their meanings, which failure ends in which
    cli         the command line (``thumbstat-client``, ``python -m handlers.device``)
    client      an alias of the above for ``python -m handlers.device.client`` and old imports
"""
