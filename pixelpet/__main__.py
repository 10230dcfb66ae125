from pixelpet.cli import main

raise SystemExit(main())
