"""cac-filings: open, versioned data on the algorithm filings published by the CAC."""

# The one place the version is written (pyproject.toml reads it). Whether a run rebuilds is
# decided by the code's fingerprint (fingerprint.py), not by this string.
__version__ = "0.2.0"
