"""What a resource's ``lifecycle { ignore_changes }`` hides, and where an attribute sits in a provider's table.

A setting that ``ignore_changes`` names is left out of every plan, but not out of the guest the workspace would
build: re-created from the workspace (what it is for), the guest gets every value the resource declares. So a
declared value is judged whether it is ignored or not, and a finding on an ignored one says so (``HIDDEN``);
only what a plan would do to it (change it, replace the guest) is not claimed.
"""

from __future__ import annotations

from ..provider_tables import AttributeSchema, BlockSchema, ResourceSchema

HIDDEN = (": lifecycle { ignore_changes } hides it from a plan after import, but the guest re-created from the "
          "workspace would have it")


def hides(ignored: frozenset[str], path: str) -> bool:
    """Whether ``ignore_changes`` (its names as ``TfResource.ignored`` gives them) covers ``path``
    (``disk.cache`` is covered by ``disk`` and by ``disk.cache``; ``all`` covers everything)."""
    steps = path.split(".")
    return "all" in ignored or any(".".join(steps[:n]) in ignored for n in range(1, len(steps) + 1))


def schema_at(schema: ResourceSchema | BlockSchema | None, path: str) -> tuple[AttributeSchema | None, bool]:
    """The attribute's schema, and whether it or a block above it is ForceNew."""
    force_new = False
    *steps, last = path.split(".")
    for step in steps:
        block = schema.blocks.get(step) if schema is not None else None
        if block is None:
            return None, force_new
        force_new, schema = force_new or block.force_new, block
    attribute = schema.attributes.get(last) if schema is not None else None
    return attribute, force_new or bool(attribute and attribute.force_new)


def absent(schema: ResourceSchema | BlockSchema | None, path: str) -> bool:
    """Whether the table says the provider version has no argument at ``path`` (a table that did not read all of
    a block's members says nothing about the names it lacks)."""
    *steps, last = path.split(".")
    for step in steps:
        if schema is None or schema.partial:
            return False
        if step not in schema.blocks:
            return step not in schema.attributes  # ``cpu`` of telmate 2.9 is an argument, not a block
        schema = schema.blocks[step]
    return schema is not None and not schema.partial and last not in schema.attributes and last not in schema.blocks
