"""``python -m geoloc_embed.cli``: the ``geoloc-embed`` command."""

import sys

from . import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
