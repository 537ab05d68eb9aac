#!/usr/bin/env python3
"""The architecture's three measurable rules, checked from the source (docs/architecture.md).

  scripts/arch-check.py [--root DIR] [--graph]

1. No import cycle among the library's top-level modules. The graph is computed from `crate::`
   and `super::` paths (including grouped `use crate::{a, b::c}` imports) and from the names
   lib.rs re-exports, in code outside `#[cfg(test)]` items; doc comments do not count.
2. No source file over MAX_FILE lines, not counting `#[cfg(test)]` items.
3. No function over MAX_FN lines outside `#[cfg(test)]` items.

Exits 1 and names every violation; `--graph` also prints the module graph bottom-up.
"""
import argparse
import os
import re
import sys

MAX_FILE = 1000
MAX_FN = 150


def strip(text):
    """Returns `text` with comments, string and char literals blanked, newlines kept."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif re.match(r'(b|c)?r#*"', text[i:i + 260]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'(b|c)?r(#*)"', text[i:])
            close = '"' + m.group(2)
            j = text.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"' or (c in "bc" and text.startswith('"', i + 1) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            j = i + (2 if c != '"' else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'])'", text[i:])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(code, open_brace):
    """Index just past the brace that closes the one at `open_brace`."""
    depth = 0
    for j in range(open_brace, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(code)


def item_end(code, start):
    """Index just past the item beginning at `start` (a braced block, or up to `;`)."""
    j = start
    while j < len(code) and code[j] not in "{;":
        j += 1
    if j < len(code) and code[j] == "{":
        return block_end(code, j)
    return j + 1


def without_tests(code):
    """`code` with every `#[cfg(test)]` item blanked (newlines kept), and how many lines those
    items spanned."""
    spanned = 0
    while True:
        m = re.search(r"#\[cfg\(test\)\]", code)
        if not m:
            return code, spanned
        end = item_end(code, m.end())
        spanned += code[m.start():end].count("\n") + 1
        code = code[: m.start()] + re.sub(r"[^\n]", " ", code[m.start():end]) + code[end:]


def top_module(rel):
    """The top-level module a file under src/ belongs to (None for lib.rs, main.rs, cli/)."""
    parts = rel.split("/")
    if parts[0] in ("lib.rs", "main.rs", "cli", "bin"):
        return None
    return parts[0][:-3] if parts[0].endswith(".rs") else parts[0]


def module_path(rel):
    """The module path of a file, e.g. chain/store.rs -> ['chain', 'store']."""
    parts = rel[:-3].split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts


def referenced(code, path, modules, reexports):
    """Top-level modules that `code` (the file at module `path`) names."""
    found = set()

    def resolve(segments):
        if not segments:
            return
        head = segments[0]
        if head in modules:
            found.add(head)
        elif head in reexports:
            found.add(reexports[head])

    for m in re.finditer(r"\bcrate\s*::\s*(\{[^;]*?\}|[A-Za-z_][A-Za-z0-9_]*)", code):
        body = m.group(1)
        if body.startswith("{"):
            depth, names, cur = 0, [], ""
            for ch in body[1:-1]:
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                elif ch == "," and depth == 0:
                    names.append(cur)
                    cur = ""
                    continue
                cur += ch
            names.append(cur)
            for name in names:
                resolve([s.strip() for s in name.split("::") if s.strip()])
        else:
            resolve([body])
    for m in re.finditer(r"\b((?:super\s*::\s*)+)(\{[^;]*?\}|[A-Za-z_][A-Za-z0-9_]*)", code):
        ups = m.group(1).count("super")
        base = path[: len(path) - ups]
        if base:
            continue  # still inside the same top-level module
        body = m.group(2)
        heads = re.findall(r"(?:^|[{,])\s*([A-Za-z_][A-Za-z0-9_]*)", body) if body.startswith("{") else [body]
        for h in heads:
            resolve([h])
    return found


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--graph", action="store_true")
    args = ap.parse_args()
    src = os.path.join(args.root, "src")
    files = {}
    for dirpath, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, src).replace(os.sep, "/")
                with open(full, encoding="utf-8") as f:
                    files[rel] = without_tests(strip(f.read()))
    modules = {top_module(r) for r in files} - {None}
    reexports = {}
    for m in re.finditer(r"pub\s+use\s+([a-z_][a-z0-9_]*)\s*::\s*(\{[^;]*\}|[A-Za-z_][A-Za-z0-9_]*)\s*;", files.get("lib.rs", ("", 0))[0]):
        for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(2)):
            reexports.setdefault(name, m.group(1))

    problems = []
    graph = {m: set() for m in modules}
    for rel, (code, test_lines) in sorted(files.items()):
        top = top_module(rel)
        if top is not None:
            graph[top] |= referenced(code, module_path(rel), modules, reexports) - {top}
        count = code.count("\n") - test_lines
        if count > MAX_FILE:
            problems.append(f"src/{rel}: {count} lines outside #[cfg(test)] (limit {MAX_FILE})")
        for m in re.finditer(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)", code):
            j = m.end()
            while j < len(code) and code[j] not in "{;":
                j += 1
            if j >= len(code) or code[j] == ";":
                continue
            end = block_end(code, j)
            body = code[j:end].count("\n") + 1
            if body > MAX_FN:
                line = code[: m.start()].count("\n") + 1
                problems.append(f"src/{rel}:{line}: fn {m.group(1)} is {body} lines (limit {MAX_FN})")
    for comp in cycles(graph):
        edges = [f"{a} -> {b}" for a in comp for b in sorted(graph[a]) if b in comp]
        problems.append("import cycle among " + ", ".join(comp) + ": " + "; ".join(edges))
    if args.graph:
        for m in sorted(modules, key=lambda m: (len(graph[m]), m)):
            print(f"{m}: {', '.join(sorted(graph[m])) or '-'}")
    for p in problems:
        print(p)
    if problems:
        print(f"arch-check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("arch-check: ok (no module cycle, files and functions within limits)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
