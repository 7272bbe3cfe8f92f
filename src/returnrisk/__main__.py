"""``python -m returnrisk`` is the ``returnrisk`` command."""

from returnrisk.cli import main

if __name__ == "__main__":
    main()
