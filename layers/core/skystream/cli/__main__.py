import sys

from skystream.cli import main

sys.exit(main())
