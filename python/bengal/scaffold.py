"""`bengal new site NAME`: a small site that builds at once and shows where things go."""

from __future__ import annotations

from pathlib import Path

FILES = {
    "bengal.toml": """[site]
title = "{title}"
baseurl = "https://example.org/"
language = "en"
description = "A site built with bengal"

[build]
output_dir = "public"

[[menu.main]]
name = "Home"
url = "/"
weight = 1

[[menu.main]]
name = "Posts"
url = "/posts/"
weight = 2

[[menu.main]]
name = "Tags"
url = "/tags/"
weight = 3
""",
    "content/_index.md": """---
title: {title}
---

Welcome! Edit `content/_index.md` to change this page, and add posts under `content/posts/`.
""",
    "content/posts/_index.md": """---
title: Posts
---
""",
    "content/posts/hello-world.md": """---
title: Hello, world
date: 2024-01-01
tags: [welcome]
---

This is your first post. Link to other pages with [[_index|the home page]] or by title:
[[Posts]].

```{{tip}}
Run `bengal build` and open `public/index.html`.
```
""",
    "templates/.keep": "",
    "static/.keep": "",
    "assets/.keep": "",
    "data/.keep": "",
    ".gitignore": "public/\n.bengal/\n",
}


def create_site(target: Path) -> None:
    title = target.resolve().name.replace("-", " ").replace("_", " ").title() or "My Site"
    for rel, text in FILES.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(title=title), encoding="utf-8")
