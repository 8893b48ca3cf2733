"""A thread pool serving requests: each task builds records, encodes them as
JSON, compresses and hashes the result (zlib and hashlib release the GIL,
so the workers' allocations interleave finely) and decodes part of it back.

    python benchmarks/workloads/thread_pool.py [--tasks N] [--workers N]
"""

import argparse
import concurrent.futures
import hashlib
import json
import zlib


def handle(task):
    records = [{"id": task * 100 + i, "name": f"item-{task}-{i}", "tags": [str(i), "x" * (i % 7)],
                "price": i * 1.25} for i in range(60)]
    body = json.dumps(records).encode()
    packed = zlib.compress(body, 6)
    digest = hashlib.sha256(packed).hexdigest()
    again = json.loads(zlib.decompress(packed))
    names = ",".join(record["name"] for record in again[::3])
    return len(packed), digest[:8], len(names)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=8)
    arguments = parser.parse_args(argv)
    with concurrent.futures.ThreadPoolExecutor(arguments.workers) as pool:
        total = sum(size for size, _, _ in pool.map(handle, range(arguments.tasks)))
    print(f"{arguments.tasks} tasks, {total} compressed bytes")


if __name__ == "__main__":
    main()
