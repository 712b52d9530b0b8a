"""`python -m bot` is the same as the `certops` console script."""

from bot.cli import main

raise SystemExit(main())
