"""`python -m ebpf_darshan` is the `ebpf-darshan` command."""

import sys

from .cli import main

sys.exit(main())
