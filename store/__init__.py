# Before any module here is imported: store/memory.py may run compiled by mypyc, or from
# source when its build is stale or DESKBRIDGE_PURE=1 (workflows/compiled.py).
from deskbridge.workflows.compiled import choose_sources

choose_sources()
