"""Write the schema of one served version of a CustomResourceDefinition as compact JSON.

    python tests/deploy/crds/vendor_crds.py SOURCE CRD.yaml [CRD.yaml ...]

SOURCE is recorded in each file (upstream repository, tag and path). Descriptions and the `status`
subtree are dropped (the manifests never set status; descriptions are most of the size); every
validation keyword is kept as upstream wrote it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent


def strip(schema: Any, *, in_properties: bool = False) -> Any:
    if isinstance(schema, list):
        return [strip(i) for i in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if not in_properties and key == "description" and isinstance(value, str):
            continue  # a keyword; inside `properties` the same key would be a field's name
        out[key] = strip(value, in_properties=(key == "properties" and not in_properties))
    return out


def vendor(source: str, crd_file: Path) -> list[Path]:
    written = []
    for crd in yaml.safe_load_all(crd_file.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd["spec"]
        (version,) = [v for v in spec["versions"] if v.get("storage")]
        schema = strip(version["schema"]["openAPIV3Schema"])
        schema.get("properties", {}).pop("status", None)
        doc = {"apiVersion": f"{spec['group']}/{version['name']}", "kind": spec["names"]["kind"],
               "scope": spec["scope"], "source": f"{source}/{crd_file.name}",
               "openAPIV3Schema": schema}
        out = HERE / f"{spec['group']}_{version['name']}_{spec['names']['kind']}.json"
        out.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n")
        written.append(out)
    return written


if __name__ == "__main__":
    for f in sys.argv[2:]:
        for path in vendor(sys.argv[1], Path(f)):
            print(path.name, path.stat().st_size)
