#!/usr/bin/env python3
"""Checks that every target of Package.swift declares exactly the modules its sources import.

SwiftPM's `--explicit-target-dependency-import-check=error` (which scripts/test.sh builds with)
fails the build when a target imports a module it does not declare. This script checks the other
direction as well: a declared dependency that no source file of the target imports is stale.
A product is taken to provide the module of the same name (true of every package we use).

    tools/check_dependencies.py            # exit 1 and a line per problem, 0 when clean
    tools/check_dependencies.py --graph    # the package's own targets, top layer first
"""
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Modules of the toolchain and the OS, never declared as dependencies.
SYSTEM = {"Foundation", "FoundationEssentials", "FoundationNetworking", "Glibc", "Darwin", "Dispatch",
          "Synchronization", "Testing", "XCTest", "_Concurrency", "os"}
IMPORT = re.compile(r"^\s*(?:@testable\s+|@_exported\s+|@preconcurrency\s+)*import\s+(?:(?:struct|class|enum|func|protocol)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def target_dir(target):
    if target.get("path"):
        return ROOT / target["path"]
    base = "Tests" if target["type"] == "test" else "Sources"
    return ROOT / base / target["name"]


def declared(target):
    names = set()
    for dep in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dep:
                names.add(dep[kind][0])
    return names


def imported(directory):
    modules = set()
    for path in directory.rglob("*.swift"):
        modules.update(IMPORT.findall(path.read_text(encoding="utf-8")))
    return modules - SYSTEM


def graph(package):
    """Prints each library and executable target of the package over the ones it depends on,
    by layer: a target stands above everything it imports (layer 1 imports none of ours)."""
    ours = {t["name"]: t for t in package["targets"] if t["type"] in ("regular", "executable", "system")}
    edges = {name: sorted(d for d in declared(t) if d in ours) for name, t in ours.items()}
    layer = {}

    def depth(name):
        if name not in layer:
            layer[name] = 1 + max((depth(d) for d in edges[name]), default=0)
        return layer[name]

    for name in sorted(ours, key=lambda n: (-depth(n), n)):
        print(f"{depth(name):>2}  {name:<20} -> {', '.join(edges[name]) or '-'}")


def main():
    package = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=ROOT, check=True,
                                        capture_output=True, text=True).stdout)
    if "--graph" in sys.argv[1:]:
        graph(package)
        return 0
    executables = {t["name"] for t in package["targets"] if t["type"] == "executable"}
    problems = []
    for target in package["targets"]:
        if target["type"] not in ("regular", "executable", "test"):
            continue  # system libraries and plugins have no Swift imports to compare
        directory = target_dir(target)
        if not any(directory.rglob("*.swift")):
            continue  # C targets
        deps, uses = declared(target), imported(directory)
        for missing in sorted(uses - deps):
            problems.append(f"{target['name']}: imports {missing} but does not declare it")
        # A test target depends on an executable to have it built, and runs it rather than importing it.
        for stale in sorted(deps - uses - executables):
            problems.append(f"{target['name']}: declares {stale} but no source file imports it")
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
