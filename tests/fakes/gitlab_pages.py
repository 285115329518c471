"""How the fake GitLab pages its lists, as GitLab does: offset pagination with the x-* headers
(Kaminari, lib/gitlab/pagination/offset_pagination.rb), and the repository tags' Gitaly pager
(lib/gitlab/pagination/gitaly_keyset_pager.rb) with GitRefsFinder's search (app/finders/git_refs_finder.rb)."""

from __future__ import annotations

import re
from typing import Any


def offset_page(args: dict[str, Any], items: list[Any], max_per_page: int) -> tuple[list[Any], dict[str, str]]:
    per_page = max(1, min(int(args.get("per_page", 20)), max_per_page))
    page = max(1, int(args.get("page", 1)))
    pages = max(1, -(-len(items) // per_page))
    headers = {
        "x-page": str(page),
        "x-per-page": str(per_page),
        "x-total": str(len(items)),
        "x-total-pages": str(pages),
        "x-next-page": str(page + 1) if page < pages else "",
        "x-prev-page": str(page - 1) if page > 1 else "",
    }
    return items[(page - 1) * per_page : page * per_page], headers


def tags_page(args: dict[str, Any], names: list[str], max_per_page: int) -> tuple[list[str], dict[str, str]]:
    """The tag names of the page asked for. The first page comes from Gitaly (paginate_first_page_via_gitaly):
    per_page tags, or, with a search, every match (TagsFinder pages through Gitaly only without one), and always
    x-next-page 2, with x-total counting every tag. Later pages are offset pages of the matches."""
    search = str(args.get("search") or "")
    matches = search_refs(names, search)
    if str(args.get("page") or "1") != "1":
        return offset_page(args, matches, max_per_page)
    per_page = min(int(args.get("per_page") or 20), max_per_page)
    headers = {
        "x-page": "1",
        "x-per-page": str(per_page),
        "x-next-page": "2",
        "x-prev-page": "",
        "x-total": str(len(names)),
        "x-total-pages": str(len(names) // per_page + 1),
    }
    return (matches if search else matches[:per_page]), headers


def search_refs(names: list[str], term: str) -> list[str]:
    """GitRefsFinder#by_search (app/finders/git_refs_finder.rb): case-insensitive; "^" and "$" anchor and
    "*" is a wildcard; without them a substring, an exact match put first."""
    if not term:
        return names
    pattern = re.escape(term.lower())
    wild = any(c in term for c in "^$*")
    if wild:
        pattern = pattern.replace(r"\^", "^", 1).replace(r"\*", ".*?").replace(r"\$", "$", 1)
    found = [n for n in names if re.search(pattern, n.lower())]
    exact = [n for n in found if n.lower() == term.lower()]
    return found if wild or not exact else exact[:1] + [n for n in found if n != exact[0]]
