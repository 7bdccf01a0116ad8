#!/usr/bin/env bash
# Offline checks of the monitoring assets in deploy/ (no Prometheus or Grafana
# server needed):
#
#   deploy/check.sh                 run every check, then print the metrics the
#                                   dashboard uses after a line "metrics used:"
#   deploy/check.sh --list-metrics  print only the metric names the dashboard
#                                   uses, one per line, sorted, nothing else
#
# Checks: promtool check config / check rules / test rules; the dashboard is
# valid JSON (python3 -m json.tool) and well formed (ids, grid, data source,
# descriptions, variables); every dashboard query parses as PromQL (promtool,
# with the Grafana variables replaced); every metric used by the dashboard and
# the rules is in the reference table of deploy/README.md.
#
# Needs python3; all but --list-metrics also need promtool (Prometheus 2.x).
# Exits non-zero if any check fails.

set -u

here=$(cd "$(dirname "$0")" && pwd)
prom_dir=$here/prometheus
config=$prom_dir/prometheus.yml
rules=$prom_dir/xdpd-rules.yml
rules_test=$prom_dir/xdpd-rules.test.yml
dashboard=$here/grafana/xdpd-dashboard.json
readme=$here/README.md

# dash_tool MODE: the dashboard helper, in python3.
#   metrics  metric names used by the dashboard's queries, sorted unique
#   lint     structural checks; prints problems, exits 1 if any
#   promql   a Prometheus rule file with one recording rule per query, the
#            Grafana variables replaced, for promtool to parse
#   docs     metrics used by the dashboard or the rules that README.md's
#            reference table lacks; exits 1 if any
dash_tool() {
    python3 - "$1" "$dashboard" "$rules" "$readme" <<'PY'
import json
import re
import sys

mode, dash_path, rules_path, readme_path = sys.argv[1:5]

METRIC = re.compile(r"\b(?:xdpd_[a-z0-9_]+|process_[a-z_]+|up)\b")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')


def metrics_in(expr):
    # Label values ("drop", "rate_source|...") are not metric names.
    return set(METRIC.findall(STRING.sub('""', expr)))


def load():
    with open(dash_path, encoding="utf-8") as f:
        return json.load(f)


def walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def exprs(dash):
    """(where, PromQL) of every panel query and every query variable."""
    out = []
    for p in panels(dash):
        for t in p.get("targets", []):
            if isinstance(t.get("expr"), str):
                out.append((f'panel {p.get("id")} "{p.get("title")}" {t.get("refId")}', t["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            if isinstance(q, str) and q:
                out.append((f'variable {v.get("name")}', q))
    return out


def panels(dash):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])  # collapsed rows


def all_metrics(dash):
    names = set()
    for node in walk(dash):
        if isinstance(node.get("expr"), str):
            names |= metrics_in(node["expr"])
    for _, q in exprs(dash):
        names |= metrics_in(q)
    return names


def lint(dash):
    errs = []
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        errs.append("schemaVersion must be 36 or later")
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("type") == "datasource"
               and i.get("pluginId") == "prometheus" for i in dash.get("__inputs", [])):
        errs.append("__inputs lacks the DS_PROMETHEUS Prometheus data source")
    if dash.get("id") is not None:
        errs.append("id must be null (Grafana assigns it on import)")
    if not dash.get("uid"):
        errs.append("uid missing")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    for name in ("instance", "interface"):
        v = variables.get(name)
        q = v and v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if not v or v.get("type") != "query" or not isinstance(q, str) or not q.startswith("label_values("):
            errs.append(f"variable {name} missing or not a label_values() query")
    ids = set()
    occupied = {}
    for p in panels(dash):
        where = f'panel {p.get("id")} "{p.get("title")}"'
        if not isinstance(p.get("id"), int) or p["id"] in ids:
            errs.append(f"{where}: id missing or duplicated")
        ids.add(p.get("id"))
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "hwxy") or g["x"] + g["w"] > 24:
            errs.append(f"{where}: bad gridPos {g}")
        elif p.get("type") != "row" or not p.get("collapsed"):
            for y in range(g["y"], g["y"] + g["h"]):
                for x in range(g["x"], g["x"] + g["w"]):
                    if (x, y) in occupied:
                        errs.append(f"{where}: overlaps {occupied[(x, y)]}")
                        break
                    occupied[(x, y)] = where
                else:
                    continue
                break
        if p.get("type") == "row":
            continue
        if not p.get("title") or not p.get("description"):
            errs.append(f"{where}: title or description missing")
        ds_refs = [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]
        if any(not isinstance(d, dict) or d.get("uid") != "${DS_PROMETHEUS}" for d in ds_refs):
            errs.append(f"{where}: data source is not ${{DS_PROMETHEUS}}")
        targets = p.get("targets") or []
        if not targets:
            errs.append(f"{where}: no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            errs.append(f"{where}: duplicated refId")
        for t in targets:
            e = t.get("expr", "")
            if not isinstance(e, str) or not metrics_in(e):
                errs.append(f"{where} {t.get('refId')}: expr uses no known metric")
    for d in walk(dash):
        if "datasource" in d and isinstance(d["datasource"], dict) and d["datasource"].get("type") == "prometheus" \
                and d["datasource"].get("uid") != "${DS_PROMETHEUS}":
            errs.append(f"a Prometheus data source reference other than ${{DS_PROMETHEUS}}: {d['datasource']}")
    for e in errs:
        print(f"  {e}")
    return 1 if errs else 0


def promql(dash):
    # Grafana's variables, replaced by values that leave the query's syntax as is.
    subs = [(r"\$__rate_interval|\$\{__rate_interval\}|\$__interval|\$\{__interval\}|\$__range|\$\{__range\}", "1m"),
            (r"\$\{?[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}?", ".*")]
    print("groups:\n  - name: dashboard-queries\n    rules:")
    for i, (where, e) in enumerate(exprs(dash)):
        if where.startswith("variable"):
            # label_values(selector, label): check the selector alone.
            m = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", e, re.S)
            if not m:
                continue
            e = m.group(1)
        for pat, rep in subs:
            e = re.sub(pat, rep, e)
        print(f"      # {json.dumps(where)}")
        print(f"      - record: dashboard:query_{i}")
        print(f"        expr: {json.dumps(e)}")
    return 0


def documented():
    names = set()
    with open(readme_path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\|\s*`([a-z_][a-z0-9_]*)`", line)
            if m:
                names.add(m.group(1))
    return names


def docs(dash):
    used = all_metrics(dash)
    with open(rules_path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\s*expr:\s*(.*)$", line)
            if m:
                used |= metrics_in(m.group(1))
    used.discard("up")  # made by Prometheus, not by xdpd
    missing = sorted(used - documented())
    for m in missing:
        print(f"  {m} is used but not in the metric reference of README.md")
    return 1 if missing else 0


try:
    dash = load()
except (OSError, ValueError) as e:
    print(f"cannot read {dash_path}: {e}", file=sys.stderr)
    sys.exit(2)

if mode == "metrics":
    names = sorted(all_metrics(dash))
    if not names:
        print("no metric found in the dashboard", file=sys.stderr)
        sys.exit(1)
    print("\n".join(names))
    sys.exit(0)
sys.exit({"lint": lint, "promql": promql, "docs": docs}[mode](dash))
PY
}

if [ "${1:-}" = "--list-metrics" ]; then
    dash_tool metrics
    exit $?
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--list-metrics]" >&2
    exit 2
fi

failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# step NAME COMMAND...: run a check, show its output only when it fails.
step() {
    local name=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        echo "ok    $name"
    else
        echo "FAIL  $name"
        sed 's/^/      /' "$tmp/out"
        failed=1
    fi
}

if ! command -v python3 >/dev/null; then
    echo "FAIL  python3 not found" >&2
    exit 1
fi
if command -v promtool >/dev/null; then
    step "promtool check config prometheus/prometheus.yml" promtool check config "$config"
    step "promtool check rules prometheus/xdpd-rules.yml" promtool check rules "$rules"
    step "promtool test rules prometheus/xdpd-rules.test.yml" promtool test rules "$rules_test"
else
    echo "FAIL  promtool not found (Debian: apt-get install prometheus)"
    failed=1
fi
step "dashboard is valid JSON" python3 -m json.tool "$dashboard"
step "dashboard is well formed" dash_tool lint
if command -v promtool >/dev/null; then
    check_promql() {
        dash_tool promql >"$tmp/queries.yml" && promtool check rules "$tmp/queries.yml"
    }
    step "dashboard queries parse as PromQL" check_promql
fi
step "metrics used are documented in README.md" dash_tool docs

echo "metrics used:"
dash_tool metrics || failed=1

if [ "$failed" -ne 0 ]; then
    echo "deploy/check.sh: FAILED" >&2
    exit 1
fi
