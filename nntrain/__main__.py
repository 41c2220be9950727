"""`python -m nntrain`: the `nntrain` command, signals handled from its first line (launch.py)."""
import sys

from .launch import main

sys.exit(main())
