"""The usage dashboard at /ui/: server-rendered pages over the ledger, with a vendored chart library (uPlot)
shipped in the package, so it works air-gapped. Routes only: the figures come from ``ledger.dashboard``."""
