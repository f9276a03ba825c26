"""pytest-xdist scheduling that keeps a case file on one worker and balances the rest."""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

CASE_FILE_SUFFIXES = (".yaml", ".yml")


class CaseFileScheduling(LoadScopeScheduling):
    """A case file is one unit of work (its suite is answered and gated together); every
    other test is its own unit, as with xdist's default `load` distribution."""

    def _split_scope(self, nodeid: str) -> str:
        file_part = nodeid.split("::", 1)[0]
        return file_part if file_part.endswith(CASE_FILE_SUFFIXES) else nodeid
