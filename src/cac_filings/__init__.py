"""cac-filings: open, versioned data on the algorithm filings published by the CAC."""

__version__ = "0.1.0"
