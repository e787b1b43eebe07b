"""Replay's instructions by phase, under callgrind: `deskbridge replay` with each phase's
functions called through a C function of its own (`phase_json`, `phase_parse`, …), so that
callgrind's inclusive count of that C function is the phase's instructions.

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/tmp/phases.out \\
        .venv/bin/python benchmarks/replay_phases.py replay week.jsonl \\
        --until 2026-03-09T00:00:00Z --one-process
    callgrind_annotate --inclusive=yes --threshold=100 /tmp/phases.out | grep phase_

Python code run by the interpreter has no symbol of its own in callgrind's output; a C
trampoline per phase gives it one. The trampolines are built on each run (the C compiler
that builds the mypyc modules) into a temporary folder. Each wrapped call costs a few hundred
instructions more (about 1 G on the generated week): compare phases with each other, and
totals with an unwrapped run. Nested phases (classification inside the rules, the rules
inside deciding an event or firing a timer) are counted in both.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

PHASES = [
    *("json", "envelope", "parse"),  # reading a line into events
    *("run_batch", "decide_event", "apply_event", "rules", "classify", "apply", "facts"),
    *("related", "fire", "jobs"),  # deciding, timers, scheduled jobs
    *("record", "encode", "write"),  # the output
]

SOURCE = """
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define T(name) \\
static PyObject * __attribute__((noinline)) \\
phase_##name(PyObject *self, PyObject *args, PyObject *kw) { \\
    PyObject *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args)); \\
    if (rest == NULL) return NULL; \\
    PyObject *r = PyObject_Call(PyTuple_GET_ITEM(args, 0), rest, kw); \\
    Py_DECREF(rest); return r; }
%(defs)s
static PyMethodDef methods[] = {
%(methods)s
{NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "replay_phases_c", NULL, -1, methods};
PyMODINIT_FUNC PyInit_replay_phases_c(void) { return PyModule_Create(&mod); }
"""


def build(folder: Path):
    """The trampolines' module, compiled into `folder`."""
    source = folder / "replay_phases_c.c"
    source.write_text(
        SOURCE
        % {
            "defs": "\n".join(f"T({p})" for p in PHASES),
            "methods": "\n".join(
                f'{{"{p}", (PyCFunction)(void(*)(void))phase_{p}, '
                "METH_VARARGS | METH_KEYWORDS, NULL},"
                for p in PHASES
            ),
        }
    )
    target = folder / f"replay_phases_c{sysconfig.get_config_var('EXT_SUFFIX')}"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()
    include = f"-I{sysconfig.get_paths()['include']}"
    flags = ["-O2", "-g", "-shared", "-fPIC", include]
    subprocess.run([*compiler, *flags, str(source), "-o", str(target)], check=True)
    spec = importlib.util.spec_from_file_location("replay_phases_c", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wrap(trampoline, function):
    def wrapped(*args, **kwargs):
        return trampoline(function, *args, **kwargs)

    return wrapped


def install(c) -> None:
    """Each phase's functions called through its trampoline."""
    import deskbridge.cli as cli
    import deskbridge.connectors.registry as registry
    import deskbridge.workflows.actions as actions
    import deskbridge.workflows.decider as decider
    import deskbridge.workflows.job_runner as job_runner
    import deskbridge.workflows.replay as replay
    import deskbridge.workflows.rules.routing as routing

    replay._decode_line = wrap(c.json, replay._decode_line)
    replay._read_envelope = wrap(c.envelope, replay._read_envelope)
    for connector in registry.CONNECTORS.values():
        if connector.parse_object is not None:  # a frozen dataclass
            object.__setattr__(connector, "parse_object", wrap(c.parse, connector.parse_object))
    d = decider.Decider
    d._decide_event = wrap(c.decide_event, d._decide_event)
    d._fire = wrap(c.fire, d._fire)
    d._apply = wrap(c.apply, d._apply)
    d._related = wrap(c.related, d._related)
    d._run_batch = wrap(c.run_batch, d._run_batch)
    decider.apply_event = wrap(c.apply_event, decider.apply_event)
    decider.evaluate_rules_to_state = wrap(c.rules, decider.evaluate_rules_to_state)
    decider.evaluate_timer_to_state = wrap(c.rules, decider.evaluate_timer_to_state)
    decider.build_event_facts = wrap(c.facts, decider.build_event_facts)
    decider.build_action_facts = wrap(c.facts, decider.build_action_facts)
    routing.classify_texts = wrap(c.classify, routing.classify_texts)
    job_runner.JobRunner.run_occurrence = wrap(c.jobs, job_runner.JobRunner.run_occurrence)
    actions.Action.to_record = wrap(c.record, actions.Action.to_record)
    make_encoder = cli._record_encoder
    cli._record_encoder = lambda: wrap(c.encode, make_encoder())
    cli._write_lines = wrap(c.write, cli._write_lines)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        install(build(Path(folder)))
        from deskbridge.cli import main as deskbridge

        deskbridge()


if __name__ == "__main__":
    sys.exit(main())
