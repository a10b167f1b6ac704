from keraslab.cli.main import main

raise SystemExit(main())
