"""The local stack: what AWS provides around the two functions, on a laptop or a CI machine.

Tooling beside the product: it imports ``handlers`` and ``infra.functions``, is copied into no
Lambda image and is not shipped in the wheel (tests/packaging/test_layout.py checks the arrows).
"""
