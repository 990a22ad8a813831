"""CycloneDX JSON SBOM of an image: its Python distributions and its Debian packages.

Built with cyclonedx-python-lib (the library behind cyclonedx-bom) from files in the image's final
filesystem: `*.dist-info/METADATA` and `*.egg-info/PKG-INFO` under site-packages or dist-packages,
and dpkg's status file. Nothing inside the image is executed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.parser import HeaderParser
from typing import Any

_PY_META = re.compile(
    r"(?:^|/)(?:site|dist)-packages/[^/]+\.(?:dist-info/METADATA|egg-info/PKG-INFO|egg-info)$"
)
DPKG_STATUS = "var/lib/dpkg/status"
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")


def wanted(path: str) -> bool:
    """Files the layer reader keeps for the SBOM."""
    return bool(_PY_META.search(path)) or path == DPKG_STATUS or path in OS_RELEASE


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_packages(files: Mapping[str, bytes]) -> list[dict[str, str]]:
    packages = []
    for path, raw in sorted(files.items()):
        if not _PY_META.search(path):
            continue
        meta = HeaderParser().parsestr(raw.decode("utf-8", errors="replace"))
        name, version = (meta.get("Name") or "").strip(), (meta.get("Version") or "").strip()
        if not name or not version:
            continue
        packages.append(
            {
                "name": name,
                "version": version,
                "path": "/" + path.rsplit("/", 2 if "-info/" in path else 1)[0],
                "license_expression": (meta.get("License-Expression") or "").strip(),
                "license": (meta.get("License") or "").strip(),
                "summary": (meta.get("Summary") or "").strip(),
            }
        )
    return packages


def debian_packages(status: bytes) -> list[dict[str, str]]:
    packages = []
    for paragraph in status.decode("utf-8", errors="replace").split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", paragraph, flags=re.MULTILINE))
        if (
            fields.get("Package")
            and fields.get("Version")
            and fields.get("Status", "").endswith(" installed")
        ):
            packages.append(
                {
                    "name": fields["Package"],
                    "version": fields["Version"],
                    "arch": fields.get("Architecture", ""),
                }
            )
    return packages


def _distro(files: Mapping[str, bytes]) -> str:
    for path in OS_RELEASE:
        if path in files:
            fields = dict(
                re.findall(r'^([A-Z_]+)="?([^"\n]*)"?$', files[path].decode("utf-8", "replace"), re.M)
            )
            if fields.get("ID"):
                return fields["ID"] + (f"-{fields['VERSION_ID']}" if fields.get("VERSION_ID") else "")
    return ""


def build(image_ref: str, image_id: str, files: Mapping[str, bytes], tool_version: str) -> tuple[str, int]:
    """The SBOM as CycloneDX 1.6 JSON text, and how many components it lists."""
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    bom = Bom()
    root = Component(
        name=image_ref, version=image_id, type=ComponentType.CONTAINER, bom_ref=image_id or image_ref
    )
    bom.metadata.component = root
    bom.metadata.tools.components.add(
        Component(name="pipeline-scan", version=tool_version, type=ComponentType.APPLICATION)
    )
    components: list[Component] = []
    for pkg in python_packages(files):
        purl = PackageURL("pypi", None, _normalize(pkg["name"]), pkg["version"])
        licenses: list[Any] = []
        if pkg["license_expression"]:
            licenses = [LicenseExpression(pkg["license_expression"])]
        elif pkg["license"] and len(pkg["license"]) <= 80 and "\n" not in pkg["license"]:
            licenses = [DisjunctiveLicense(name=pkg["license"])]
        components.append(
            Component(
                name=pkg["name"],
                version=pkg["version"],
                type=ComponentType.LIBRARY,
                purl=purl,
                bom_ref=f"{purl.to_string()}#{pkg['path']}",
                description=pkg["summary"] or None,
                licenses=licenses,
                properties=[Property(name="image:path", value=pkg["path"])],
            )
        )
    distro = _distro(files)
    if DPKG_STATUS in files:
        for deb in debian_packages(files[DPKG_STATUS]):
            qualifiers = {k: v for k, v in (("arch", deb["arch"]), ("distro", distro)) if v}
            purl = PackageURL(
                "deb", distro.split("-")[0] or "debian", deb["name"], deb["version"], qualifiers
            )
            components.append(
                Component(
                    name=deb["name"],
                    version=deb["version"],
                    type=ComponentType.LIBRARY,
                    purl=purl,
                    bom_ref=purl.to_string(),
                )
            )
    for component in components:
        bom.components.add(component)
    bom.register_dependency(root, components)
    return JsonV1Dot6(bom).output_as_string(indent=2), len(components)
