"""`python -m mm2plan`: the same as the `mm2plan` console script."""

from mm2plan.cli.app import main

main()
