"""Checks that the runbook, docs/operations.md, covers what the stack points at:

  1. every `docs/operations.md#ANCHOR` link in the repository (the alert rules' runbook_url
     annotations above all, and Alertmanager's templates, dashboards, README, configuration
     comments) names a heading of docs/operations.md, anchors computed as GitHub computes them;
  2. every alert of deploy/prometheus/rules/ has a section whose anchor is its name, lower case;
  3. the runbook's own links to `#ANCHOR` resolve;
  4. the `## Metrics` section names every vitrine_* series the rules and dashboards use (histogram
     suffixes _bucket/_sum/_count taken off), every series Sources/ registers, and nothing that
     Sources/ does not register.

  python3 deploy/live/check_runbook.py      # exit 1 when a check fails; stdlib only
"""

import glob
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNBOOK = os.path.join(REPO, "docs", "operations.md")
RULES = os.path.join(REPO, "deploy", "prometheus", "rules")
DASHBOARDS = os.path.join(REPO, "deploy", "grafana", "dashboards")
METRIC = re.compile(r"(?<![\w:])(vitrine_[a-z0-9_]+)")
SUFFIXES = ("_bucket", "_sum", "_count")
LINK = re.compile(r"docs/operations\.md#([A-Za-z0-9_-]+)")


def github_anchor(text):
    """The id GitHub gives a heading: its rendered text lower-cased, punctuation other than '-'
    and '_' dropped, spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)   # links keep their text
    text = re.sub(r"<[^>]+>", "", text)                     # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(markdown):
    """(level, text, anchor) of every ATX heading outside fenced code, with GitHub's -1, -2
    suffixes for repeated anchors."""
    found, seen, fence = [], {}, None
    for line in markdown.splitlines():
        stripped = line.strip()
        marker = re.match(r"^(`{3,}|~{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)[0]
            elif stripped.startswith(fence * 3):
                fence = None
            continue
        if fence is not None:
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        anchor = github_anchor(m.group(2))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.append((len(m.group(1)), m.group(2), anchor if count == 0 else f"{anchor}-{count}"))
    return found


def section(markdown, title):
    """The text under `## title` up to the next heading of level 2 or above."""
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^#{{1,2}} |\Z)", markdown, re.M | re.S)
    return m.group(1) if m else None


def base(name):
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def main():
    failures = 0

    def report(ok, what, details=()):
        nonlocal failures
        print(("ok    " if ok else "FAIL  ") + what)
        for line in details:
            print("      " + line)
        failures += not ok

    if not os.path.exists(RUNBOOK):
        report(False, "docs/operations.md exists")
        return 1
    with open(RUNBOOK, encoding="utf-8") as f:
        runbook = f.read()
    anchors = {anchor for _, _, anchor in headings(runbook)}

    # 1. every link to the runbook, wherever it is
    links, problems = {}, []
    roots = [os.path.join(REPO, "deploy"), os.path.join(REPO, "scripts"), os.path.join(REPO, "docs")]
    files = [os.path.join(REPO, "README.md"), os.path.join(REPO, "ARCHITECTURE.md")]
    for root in roots:
        for path in glob.glob(os.path.join(root, "**", "*"), recursive=True):
            if (os.path.isfile(path) and not path.endswith(".pyc") and os.path.getsize(path) < 2_000_000
                    and os.path.abspath(path) != os.path.abspath(__file__)):
                files.append(path)
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        for anchor in LINK.findall(text):
            links.setdefault(anchor, set()).add(os.path.relpath(path, REPO))
    problems = [f"#{anchor} (in {', '.join(sorted(where))}) is no heading of docs/operations.md"
                for anchor, where in sorted(links.items()) if anchor not in anchors]
    report(bool(links) and not problems,
           f"{len(links)} anchors linked as docs/operations.md#... resolve to headings", problems)

    # 2. every alert has its section
    alerts, runbook_urls = [], {}
    for path in sorted(glob.glob(os.path.join(RULES, "*.yml"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        alerts += re.findall(r"^\s*- alert:\s*(\S+)\s*$", text, re.M)
        for alert, url in re.findall(r"^\s*- alert:\s*(\S+)\s*$.*?^\s*runbook_url:\s*\"?([^\"\s]+)\"?\s*$", text, re.M | re.S):
            runbook_urls[alert] = url
    problems = []
    for alert in alerts:
        if alert.lower() not in anchors:
            problems.append(f"{alert}: no heading with anchor #{alert.lower()} (a heading `### {alert}`)")
        url = runbook_urls.get(alert)
        if url != f"docs/operations.md#{alert.lower()}":
            problems.append(f"{alert}: runbook_url is {url!r}, not docs/operations.md#{alert.lower()}")
    report(bool(alerts) and not problems, f"each of the {len(alerts)} alerts has its runbook section and runbook_url", problems)

    # 3. the runbook's own links
    internal = set(re.findall(r"\]\(#([A-Za-z0-9_-]+)\)", runbook))
    problems = [f"(#{anchor}) has no heading" for anchor in sorted(internal - anchors)]
    report(not problems, f"the runbook's {len(internal)} internal links resolve", problems)

    # 4. the Metrics section
    metrics_text = section(runbook, "Metrics")
    if metrics_text is None:
        report(False, "docs/operations.md has a `## Metrics` section (anchor #metrics)")
        return 1
    documented = {base(name) for name in METRIC.findall(metrics_text)}
    used = {}
    for path in sorted(glob.glob(os.path.join(RULES, "*.yml"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.lstrip().startswith("#") or "record:" in line:
                    continue
                for name in METRIC.findall(line):
                    used.setdefault(base(name), set()).add(os.path.relpath(path, REPO))
    for path in sorted(glob.glob(os.path.join(DASHBOARDS, "*.json"))):
        with open(path, encoding="utf-8") as f:
            board = json.load(f)
        exprs = []

        def walk(node):
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in ("expr", "query", "definition") and isinstance(value, str):
                        exprs.append(value)
                    elif isinstance(value, dict) and key == "query" and isinstance(value.get("query"), str):
                        exprs.append(value["query"])
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(board)
        for expr in exprs:
            for name in METRIC.findall(expr):
                used.setdefault(base(name), set()).add(os.path.relpath(path, REPO))
    problems = [f"{name} (used by {', '.join(sorted(where))}) is not in the Metrics section"
                for name, where in sorted(used.items()) if name not in documented]
    report(not problems, f"the Metrics section names the {len(used)} vitrine_* series the rules and dashboards use", problems)

    registered = set()
    for path in glob.glob(os.path.join(REPO, "Sources", "**", "*.swift"), recursive=True):
        with open(path, encoding="utf-8") as f:
            registered.update(re.findall(r'(?:label|name):\s*"(vitrine_[a-z0-9_]+)"', f.read()))
    problems = [f"{name} is registered in Sources/ but not documented" for name in sorted(registered - documented)]
    problems += [f"{name} is documented but Sources/ registers no such series" for name in sorted(documented - registered)]
    report(bool(registered) and not problems,
           f"the Metrics section documents exactly the {len(registered)} series Sources/ registers", problems)

    print(f"runbook checks: {'all passed' if not failures else f'{failures} failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
