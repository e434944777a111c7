#!/usr/bin/python3
"""The layer check (`make check` runs it): calls and includes go down the layers, never up.

docs/architecture.md draws the layers. tracer/ holds three of them (mechanics, services
and the stop loop), so the map below is per file, not per directory. Two things are
checked against it:
- calls: for every object file of the build, the symbols it uses (nm -u) that another
  object of the project defines (nm --defined-only) must come from its own layer or one
  it may use;
- includes: every #include "..." of a source or header file must name a file of its own
  layer or one it may use.
A layer above is reached only through function pointers it hands down (session.dispatch,
session.obs), which neither nm nor an include can see. Every project file must be in
the map, so a new file is placed deliberately.

Usage: tools/layers.py [BUILD_DIR]   (default build; needs `make all` first)"""

import fnmatch
import glob
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (layer, the layers it may use besides itself, the files in it), lowest first.
LAYERS = [
    ("reloc", [], ["reloc/*"]),
    ("sinks", [], ["sinks/*"]),
    # The socket protocol's parsing and filters: pure, so the fuzzer links them alone.
    ("protocol", ["sinks"], ["ipc/protocol.*", "ipc/filter.*"]),
    ("mechanics", ["reloc"],
     ["tracer/arch.h", "tracer/arch/*/*", "tracer/addrmap.*", "tracer/debug.*",
      "tracer/demangle.*", "tracer/elf_syms.*", "tracer/eperm.*", "tracer/image.h", "tracer/maps.*", "tracer/mem.*",
      "tracer/observer.h", "tracer/proc.*", "tracer/seccomp.*", "tracer/session.*",
      "tracer/signals.*",
      "tracer/spec.*", "tracer/symbols.h", "tracer/symbols.c", "tracer/symbols_resolve.c"]),
    ("services", ["mechanics", "reloc"],
     ["tracer/services.*", "tracer/remote.*", "tracer/remote_call.c", "tracer/sigstate.*"]),
    ("strategies", ["services", "mechanics", "reloc"], ["strategies/*"]),
    ("loop", ["strategies", "services", "mechanics", "reloc"],
     ["tracer/loop.*", "tracer/hooks.*", "tracer/follow.*", "tracer/attach.*",
      "tracer/detach.*"]),
    ("handlers", ["loop", "strategies", "services", "mechanics", "sinks", "reloc"],
     ["handlers/*"]),
    ("server", ["protocol", "handlers", "loop", "strategies", "mechanics", "sinks"],
     ["ipc/*"]),
    ("main", ["server", "handlers", "loop", "strategies", "services", "mechanics", "sinks",
              "reloc"],
     ["tracer/main.c"]),
    # The command-line client: the event formats and nothing of the daemon.
    ("client", ["sinks", "protocol"], ["client/*"]),
    # The in-process patcher shares only the relocators with the daemon.
    ("libmhook", ["reloc", "public"], ["libmhook/*"]),
    ("public", [], ["include/*"]),
]

SOURCE_DIRS = ["reloc", "sinks", "tracer", "strategies", "handlers", "libmhook", "include",
               "ipc", "client"]


def layer_of(path):
    for name, _, patterns in LAYERS:
        if any(fnmatch.fnmatch(path, p) for p in patterns):
            return name
    return None


def allowed(layer):
    for name, uses, _ in LAYERS:
        if name == layer:
            return set(uses) | {name}
    return set()


def project_files():
    out = []
    for d in SOURCE_DIRS:
        for p in glob.glob(os.path.join(REPO, d, "**", "*.[ch]"), recursive=True):
            out.append(os.path.relpath(p, REPO))
    return sorted(out)


def nm(obj, *flags):
    r = subprocess.run(["nm", "-P"] + list(flags) + [obj], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, check=True)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def source_of(obj, build):
    """build/obj/tracer/loop.o -> tracer/loop.c (and the pic objects of libmhook)."""
    rel = os.path.relpath(obj, build)
    rel = rel.split(os.sep, 1)[1]  # drop obj/ or pic/
    return os.path.splitext(rel)[0] + ".c"


def check_calls(build, problems):
    # mhookd (build/obj) and libmhook (build/pic) are separate programs: a call is
    # resolved within its own.
    programs = [[o for o in glob.glob(os.path.join(build, d, "**", "*.o"), recursive=True)
                 if os.path.exists(os.path.join(REPO, source_of(o, build)))]  # not stale
                for d in ("obj", "pic")]
    if not any(programs):
        sys.exit("layers: no object files under %s: run `make all` first" % build)
    for objs in programs:
        defined = {}
        for obj in objs:
            for sym in nm(obj, "--defined-only", "-g"):
                defined.setdefault(sym, set()).add(source_of(obj, build))
        for obj in objs:
            src = source_of(obj, build)
            me = layer_of(src)
            for sym in nm(obj, "-u"):
                for dsrc in sorted(defined.get(sym, ())):
                    other = layer_of(dsrc)
                    if other not in allowed(me):
                        problems.append("%s (%s) calls %s of %s (%s)"
                                        % (src, me, sym, dsrc, other))


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def check_includes(files, problems):
    known = set(files)
    for f in files:
        me = layer_of(f)
        with open(os.path.join(REPO, f)) as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            target = inc if inc in known else None
            if target is None:
                # "arch_defs.h" is found through -Itracer/arch/<arch>; "mhook.h" through
                # -Iinclude.
                for cand in known:
                    if cand.endswith("/" + inc):
                        target = cand
                        break
            if target is None:
                problems.append("%s includes %s, which is no project file" % (f, inc))
                continue
            other = layer_of(target)
            if other not in allowed(me):
                problems.append("%s (%s) includes %s (%s)" % (f, me, target, other))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build")
    files = project_files()
    problems = ["%s is in no layer: add it to the map in tools/layers.py" % f
                for f in files if layer_of(f) is None]
    check_includes(files, problems)
    check_calls(build, problems)
    for p in problems:
        print("layers: " + p)
    if problems:
        sys.exit(1)
    print("layers: %d files, calls and includes all go down the layers" % len(files))


if __name__ == "__main__":
    main()
