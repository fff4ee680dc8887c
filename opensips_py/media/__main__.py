"""`python -m opensips_py.media …` runs the relay like `opensips-py rtpengine …`."""
import sys

from opensips_py.media.cli import main

raise SystemExit(main(sys.argv[1:]))
