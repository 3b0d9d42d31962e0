"""``edge-bml data fetch``: the two public data sets, downloaded (or taken from a local copy) and
prepared in the layout of ``shared/data`` (see its README)."""
