"""Peak memory of one thumbnail in a fresh interpreter, like a cold Lambda's Max Memory Used.

python -m bench.peak_rss METHOD IMAGE   ->  {"max_rss_mb": ..., "added_mb": ...}
"""

from __future__ import annotations

import json
import resource
import sys

from bench import images
from bench.methods import METHODS


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main(method: str, image: str) -> None:
    data = images.load(image)
    function = METHODS[method]
    before = _max_rss_mb()
    function(data)
    after = _max_rss_mb()
    print(json.dumps({"max_rss_mb": round(after, 1), "added_mb": round(after - before, 1)}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
