"""The taxonomy index: term -> pages, kept in the build cache and updated only for the pages
whose terms, date or title changed since the last build.

Two maps, both tables of the store (bengal.incremental.LOADED):

- `pages`: page source -> PageTerms (what the page contributed: its signature and its terms
  per taxonomy);
- `terms`: "plural\\0casefolded name" -> the sources of its pages, in the order term pages list
  them (newest first: bengal.assemble.date_key).

A build compares each regular page's signature (date, title, terms: what decides which lists
it is in and where) with the one stored, takes the pages whose signature differs, that are new
or that are gone out of the lists they were in, and puts them in again where the build's list
order says. Everything else -- display names,
URL slugs, slug clashes -- is derived from the index alone, in an order that depends only on
what it holds, so an index updated step by step and one built from nothing give the same terms
(tests/python/test_taxonomy.py checks that, and the stateful incremental == clean test checks
the site built from it).

Values are replaced, never changed in place: the cache writes only the entries that
are not the very objects it loaded (bengal.incremental.BY_IDENTITY). They are plain tuples, so
the cache can store them with marshal (10k pages: ~5 ms to load instead of ~60 ms pickled).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

SEP = "\0"


# What one page contributes to the taxonomies: (signature, names).
# - signature: (date as a timestamp or None, title, {plural: names as written}); equal to the
#   stored one -> nothing to update;
# - names: ((plural, ((casefolded name, name as written), ...)), ...), the first spelling of
#   each name only, for the taxonomies the page has names in, in the site's taxonomy order.
PageTerms = tuple[tuple[Any, ...], tuple[tuple[str, tuple[tuple[str, str], ...]], ...]]


class Named(NamedTuple):
    """One term as the index defines it (bengal.assemble makes the Term and its page)."""

    plural: str
    key: str  # casefolded name
    name: str  # as its first page writes it
    slug: str
    sources: tuple[str, ...]  # its pages, in list order
    clash: str  # a warning when its natural slug was taken ("" otherwise)


def contribution(sig: tuple[Any, ...], plurals: list[str]) -> PageTerms:
    """A page's contribution from its signature: (date, title, {plural: names as written})."""
    terms: dict[str, list[str]] = sig[2]
    names = []
    for plural in plurals:
        seen: dict[str, str] = {}
        for name in terms.get(plural, ()):
            key = name.casefold()  # "Python" and "python" are one term
            # the very string when equal: stored once (marshal refers to an object seen)
            seen.setdefault(name if key == name else key, name)
        if seen:
            names.append((plural, tuple(seen.items())))
    return (sig, tuple(names))


class TaxonomyIndex:
    def __init__(
        self,
        pages: dict[str, PageTerms] | None = None,
        terms: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        # Copies: the maps may belong to a cache another build still holds (the dev server's).
        self.pages: dict[str, PageTerms] = dict(pages or {})
        self.terms: dict[str, tuple[str, ...]] = dict(terms or {})
        self.reindexed: list[str] = []  # sources whose contributions this update changed
        self.rank: dict[str, int] = {}  # source -> place in list order, as update() had it

    def update(self, current: dict[str, tuple[Any, ...]], make: Callable[[str], PageTerms]) -> None:
        """current: every regular page's source -> its signature, in list order (newest
        first: the order term lists keep); make(source): the page's contribution (asked only
        for pages whose signature is not the one stored).

        A term's pages are kept in list order. The pages whose signature did not change
        (their dates and titles, so their order among themselves, did not) keep their places;
        the changed ones are put in by their place in `current`."""
        pages = self.pages
        self.rank = {s: i for i, s in enumerate(current)}
        changed: dict[str, PageTerms | None] = {}
        get = pages.get
        for source, sig in current.items():
            old = get(source)
            if old is None or old[0] != sig:
                changed[source] = make(source)
        for source in pages.keys() - current.keys():
            changed[source] = None
        if not changed:
            return
        # The terms the changed pages were in or are in now: their lists without the changed
        # pages, plus the changed pages that are in them now, in order again (Timsort on a list
        # sorted but for a few entries is about linear).
        added: dict[str, list[str]] = {}
        for source, new in changed.items():
            old = pages.get(source)
            if old is not None:
                for plural, names in old[1]:
                    for key, _ in names:
                        added.setdefault(plural + SEP + key, [])
            if new is None:
                del pages[source]
            else:
                pages[source] = new
                for plural, names in new[1]:
                    for key, _ in names:
                        added.setdefault(plural + SEP + key, []).append(source)
        terms = self.terms
        rank = self.rank.__getitem__
        for key, new_members in added.items():
            members = [s for s in terms.get(key, ()) if s not in changed] + new_members
            if members:
                members.sort(key=rank)
                terms[key] = tuple(members)
            else:
                del terms[key]
        self.reindexed = sorted(changed)

    def named(self, taxonomies: list[tuple[str, str]], urlize: Callable[[str], str]) -> list[Named]:
        """Every term, with its display name and URL slug. A term is named as its first page
        writes it; terms get their slugs in the order of their first pages (and of names
        within a page), so "c" listed first is /tags/c/ and a later "C++" is /tags/c-2/.
        taxonomies: (singular, plural) in the order the site lists them. After update()."""
        pages = self.pages
        rank = self.rank
        plurals = [p for _, p in taxonomies]
        by_plural: dict[str, list[tuple[int, int, str, str, tuple[str, ...]]]] = {
            p: [] for p in plurals
        }
        for full, sources in self.terms.items():
            plural, _, key = full.partition(SEP)
            first = pages[sources[0]]
            for p, names in first[1]:
                if p == plural:
                    pos = next(i for i, (k, _) in enumerate(names) if k == key)
                    by_plural[plural].append((rank[sources[0]], pos, key, names[pos][1], sources))
                    break
            else:
                raise KeyError(f"{sources[0]} is listed under {full!r} but has no such term")
        out: list[Named] = []
        for singular, plural in taxonomies:
            taken: dict[str, str] = {}  # slug -> name
            for _, _, key, name, sources in sorted(by_plural[plural]):
                slug = urlize(name)
                clash = ""
                if slug in taken:
                    n = 2
                    while f"{slug}-{n}" in taken:
                        n += 1
                    clash = (
                        f"{sources[0]}: {singular} '{name}' and '{taken[slug]}' share the URL "
                        f"slug '{slug}'; '{name}' uses '{slug}-{n}'"
                    )
                    slug = f"{slug}-{n}"
                taken[slug] = name
                out.append(Named(plural, key, name, slug, sources, clash))
        return out
