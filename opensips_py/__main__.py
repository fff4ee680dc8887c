from opensips_py.cli import main

raise SystemExit(main())
