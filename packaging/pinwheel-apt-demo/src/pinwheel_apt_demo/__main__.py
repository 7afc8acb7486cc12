from pinwheel_apt_demo.cli import main

raise SystemExit(main())
