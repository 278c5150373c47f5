"""Fails when a public item of the crate has no example in its rustdoc (issue 16: every public
item's page has one). Reads the rustdoc JSON that .ci/run writes to target/doc/sessionward.json
and walks the public module tree from the crate root, following re-exports."""
import json
import sys

doc = json.load(open("target/doc/sessionward.json"))
index = doc["index"]
seen, missing = set(), []


def kind(item):
    return next(iter(item["inner"]))


def visit(item, path):
    if item["id"] in seen:
        return
    seen.add(item["id"])
    k = kind(item)
    if k in ("module", "struct", "enum", "trait", "function", "type_alias", "constant", "static", "macro"):
        if "```" not in (item.get("docs") or ""):
            missing.append(f"{k} {path}")
    if k != "module":
        return
    for child_id in item["inner"]["module"]["items"]:
        child = index.get(str(child_id))
        if not child or child["visibility"] != "public":
            continue
        if kind(child) == "use":
            target = child["inner"]["use"].get("id")
            if target is not None and str(target) in index:
                visit(index[str(target)], f"{path}::{child['inner']['use']['name']}")
            continue
        visit(child, f"{path}::{child['name']}")


visit(index[str(doc["root"])], "sessionward")
for line in missing:
    print(f"no example: {line}", file=sys.stderr)
print(f"{len(seen) - len(missing)} of {len(seen)} public items have an example")
sys.exit(1 if missing else 0)
