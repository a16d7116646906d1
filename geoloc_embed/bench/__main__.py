"""``python -m geoloc_embed.bench``: same options as ``geoloc-embed bench``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
