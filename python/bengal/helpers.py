"""The answers of the template helpers whose results outputs record -- `ref()` (a
cross-reference's URL) and `asset_url()` (a static or asset file's published URL, fingerprinted
when configured) -- and the asset plan they answer from:

    SourceTree -> AssetPlan (source file -> published path) -> helper answers
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bengal_native
from bengal.discover import THEME_DIR, SourceTree
from bengal.errors import TemplateError

if TYPE_CHECKING:
    pass


@dataclass
class AssetPlan:
    """assets/ (theme + site) -> output paths, fingerprinted when configured."""

    sources: dict[str, Path] = field(default_factory=dict)  # assets-relative -> file
    outputs: dict[str, str] = field(default_factory=dict)  # assets-relative -> output path


def plan_assets(root: Path, tree: SourceTree, fingerprint: bool) -> AssetPlan:
    from bengal.discover import walk

    plan = AssetPlan()
    for rel in walk(THEME_DIR / "assets"):
        plan.sources[rel] = THEME_DIR / "assets" / rel
    for rel in tree.assets:  # the site's own assets override the theme's
        plan.sources[rel] = root / "assets" / rel
    for rel, path in sorted(plan.sources.items()):
        out = f"assets/{rel}"
        if fingerprint:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            stem, dot, ext = out.rpartition(".")
            out = f"{stem}.{digest}.{ext}" if dot and "/" not in ext else f"{out}.{digest}"
        plan.outputs[rel] = out
    return plan


def ref_helper(index: Callable[[], Any]) -> Callable[[str], str]:
    """The ref() template helper: the URL of a page by xref key, like [[key]] or [[key#anchor]]
    (`index` gives the cross-reference index, made on first use if it must be)."""

    def ref(key: str) -> str:
        path, _, anchor = key.partition("#")
        hit = index().lookup(path) if path else None
        if hit is None:
            raise TemplateError(f"ref({key!r}): no page answers to {path!r}")
        url = str(hit[0])
        return f"{url}#{bengal_native.slugify(anchor)}" if anchor else url

    return ref


def asset_url_helper(plan: AssetPlan, baseurl: str) -> Callable[[str], str]:
    """The asset_url() template helper: an assets/ file's output URL (fingerprinted if so
    configured), under the site's base path."""
    base_path = baseurl.split("://", 1)[-1].partition("/")[2]

    def asset_url(rel: str) -> str:
        out = plan.outputs.get(rel.lstrip("/"))
        if out is None:
            raise TemplateError(f"asset_url({rel!r}): no such file under assets/")
        return "/" + (base_path + out if base_path else out)

    return asset_url
