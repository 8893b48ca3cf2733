"""memlyze's bundled example: a toy image cache with a leak.

    memlyze run -o example.mlyze examples/image_cache.py
    memlyze summary example.mlyze

What a profile of it should show (a location is the innermost Python frame,
the line that allocated):
- at the peak, the ``pixels = bytearray(...)`` line of ``decode`` holds
  about 60 MiB: the 40 images of 1.5 MiB that the cache of
  ``load_thumbnails`` keeps;
- the ``scratch`` line of ``decode`` allocates the most in total (4 MiB per
  image) but holds at most one buffer: temporaries are freed at once;
- ``remember`` leaks: its module-level ``HISTORY`` list keeps growing and is
  still alive when the program ends (2.5 MiB).
"""

import sys

IMAGE_BYTES = 1536 * 1024  # one decoded image
SCRATCH_BYTES = 4 * 1024 * 1024  # the decoder's working buffer
HISTORY = []  # never cleared: this is the leak


def decode(image_id):
    scratch = bytearray(SCRATCH_BYTES)  # temporary: freed when decode returns
    scratch[0] = image_id % 256
    pixels = bytearray(IMAGE_BYTES)
    pixels[:16] = scratch[:16]
    return pixels


def remember(image_id, pixels):
    HISTORY.append(bytes(pixels[:64 * 1024]))  # a 64 KiB thumbnail, kept forever


def load_thumbnails(count):
    cache = {}
    for image_id in range(count):
        pixels = decode(image_id)
        remember(image_id, pixels)
        cache[image_id] = pixels  # held until the cache is dropped
    return cache


def main():
    cache = load_thumbnails(40)
    held = sum(len(pixels) for pixels in cache.values())
    print(f"cached {len(cache)} images, {held / 2**20:.1f} MiB")
    del cache
    print(f"history keeps {len(HISTORY)} thumbnails, "
          f"{sum(map(len, HISTORY)) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
