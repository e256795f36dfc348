import sys

from pstpose.cli import main

sys.exit(main())
