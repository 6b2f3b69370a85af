"""What Datasette serves besides its own pages, for the Datasette plugin
(cac_filings.datasette_plugin) to wire in:

- release: the published release under the stable name `cac_filings`, swapped in when a new
  one is published, without a restart;
- latest: CAC's newest batches and filings, the home page's figures, the Atom feeds;
- filing, company, batch: a page per filing, per company, per batch;
- search_results: the search page; charts: the registry's growth; health: status and
  reconciliation with CAC's own totals; downloads, markdown_pages: the release's files;
- exports: Datasette's CSV made safe for spreadsheets.

Everything is read-only: the database is opened immutable, and no route writes.
"""

from cac_filings.web.downloads import human_size as _size

__all__ = ["_size"]
