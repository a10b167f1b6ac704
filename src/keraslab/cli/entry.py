"""The `keraslab` command's entry point (the console script and `python -m keraslab`).

A command a warm worker serves (keraslab.cli.warm_start) is handed to it before anything else is imported: building
the parser of every command alone takes 0.3 s. Any other command runs here, through keraslab.cli.main, which leaves
a worker behind for the next one where workers serve it; then the process ends at once (keraslab.cli.main.finish).
"""

from __future__ import annotations

import os
import sys

from keraslab.cli import warm_call, warm_start


def run() -> None:
    argv = sys.argv[1:]
    warm = warm_start.serves(argv)
    if warm:
        key, env = warm_start.worker_key(), dict(os.environ)
        try:
            code = warm_call.run_in_worker(key, argv)
        except KeyboardInterrupt:  # Ctrl-C before the worker's copy took the command: it stops with this process
            print("keraslab: error: interrupted", file=sys.stderr)
            code = 130
        if code is not None:
            os._exit(code)
    from keraslab.cli import main

    code = main.main()
    if warm:
        main.flush()
        warm_start.start_worker(key, env, warm_start.imported_modules())
    main.finish(code)
