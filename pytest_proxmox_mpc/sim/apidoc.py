"""The API viewer's schema, served by the simulated cluster as a PVE node serves it.

A PVE node answers ``GET /pve-docs/api-viewer/apidoc.js`` without a login: JavaScript whose
``const apiSchema = [...]`` is a JSON tree of ``{path, text, leaf, info: {METHOD: ...}, children}``. fakepve
keeps the same data flattened (``{"paths": {template: {METHOD: ...}}}``); this module builds the tree back
from it, so the sim (in this process, or as ``pytest-proxmox-mpc sim``) is read exactly like a real node.
"""

from __future__ import annotations

import functools
import gzip
import json
from typing import Any

from ..model.apischema import APIDOC_PATH, fakepve_schema_file

# What follows the schema in the real file: the viewer's own code, which a reader must step over.
VIEWER_CODE = b"\nlet method2cmd = { GET: 'get', POST: 'create', PUT: 'set', DELETE: 'delete' };\n"


def apidoc_tree(paths: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The viewer's tree of ``paths`` (template -> {METHOD: info}); parents the data lacks get no methods."""
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []

    def node_of(path: str) -> dict[str, Any]:
        if path not in nodes:
            parent, _, text = path.rpartition("/")
            nodes[path] = {"path": path, "text": text, "leaf": 1, "info": {}}
            if parent:
                above = node_of(parent)
                above["leaf"] = 0
                above.setdefault("children", []).append(nodes[path])
            else:
                roots.append(nodes[path])
        return nodes[path]

    for template in sorted(paths):
        node_of(template)["info"] = paths[template]
    return roots


@functools.lru_cache(maxsize=4)
def apidoc_js(removed: tuple[str, ...] = ()) -> bytes:
    """fakepve's schema as the text of ``apidoc.js`` (built once per process), without the methods and parameters
    ``removed`` names (``"METHOD /template"``, ``"METHOD /template PARAMETER"``: a scenario's ``api_schema``)."""
    source = fakepve_schema_file()
    if source is None:
        raise RuntimeError("fakepve's schema data is not installed")
    paths = json.loads(gzip.decompress(source.read_bytes()))["paths"]
    for entry in removed:
        method, template, *parameter = entry.split()
        info = paths.get(template, {})
        if parameter:
            info.get(method, {}).get("parameters", {}).get("properties", {}).pop(parameter[0], None)
        else:
            info.pop(method, None)
    return b"const apiSchema = " + json.dumps(apidoc_tree(paths), indent=1).encode() + b";\n" + VIEWER_CODE


def serve_apidoc(pve: Any, removed: tuple[str, ...] = ()) -> None:
    """Make the ``fakepve.FakePve`` ``pve`` (not serving yet) answer the API viewer's path, without a login (the
    schema without what ``removed`` names, see ``apidoc_js``)."""
    from aiohttp import web

    @web.middleware
    async def apidoc(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET" and request.path == APIDOC_PATH:
            return web.Response(body=apidoc_js(removed), content_type="application/javascript")
        response: web.StreamResponse = await handler(request)
        return response

    build = pve._build_app

    def build_app() -> Any:
        app = build()
        app.middlewares.insert(0, apidoc)  # outermost: before fakepve's own login check
        return app

    pve._build_app = build_app
