from deskbridge.workflows.compiled import choose_sources

# "compiled", "pure" or "stale": whether the modules workflows/compiled.py names run as built
# by mypyc or from their Python source.
LOADED_AS = choose_sources()
