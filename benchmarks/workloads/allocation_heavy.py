"""An allocation-heavy workload: a request loop that parses, transforms and
serialises JSON documents, keeps a bounded cache of buffers and builds
temporary lists, dicts and byte strings of many sizes.

Runs a fixed amount of work (no timing of its own) so that a harness can time
the whole process under different profilers.
"""

import json
import sys

REQUESTS = int(sys.argv[1]) if len(sys.argv) > 1 else 4000


def make_document(index):
    return {
        "id": index,
        "name": f"item-{index}",
        "tags": [f"tag{tag}" for tag in range(index % 7 + 3)],
        "scores": [float(index * score) / 7.0 for score in range(20)],
        "payload": "x" * (64 + index % 900),
    }


def transform(document):
    result = dict(document)
    result["tags"] = sorted(result["tags"], reverse=True)
    result["total"] = sum(result["scores"])
    result["blob"] = bytes(1024 + (document["id"] % 16) * 512)
    return result


def handle_request(index, cache):
    text = json.dumps([make_document(index * 10 + part) for part in range(10)])
    documents = json.loads(text)
    transformed = [transform(document) for document in documents]
    response = json.dumps([{key: value for key, value in item.items() if key != "blob"}
                           for item in transformed])
    cache[index % 256] = bytearray(len(response))
    return len(response)


def main():
    cache = {}
    total = 0
    for index in range(REQUESTS):
        total += handle_request(index, cache)
    print(f"processed {REQUESTS} requests, {total} bytes")


if __name__ == "__main__":
    main()
