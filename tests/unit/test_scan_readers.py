"""Scanner inputs: Trivy and pip-audit reports, image facts, secrets, SBOM and the layer reader.

Secret-looking test values are assembled at run time so that this repository never holds one.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from pipeline.errors import DataError
from pipeline.gates.scan_policy import SecretsPolicy, Severity
from pipeline.scan import facts, reports, sbom, secrets
from pipeline.scan.layers import read_saved

DATA = Path(__file__).resolve().parents[1] / "data" / "scan"
AWS_KEY = "AKIA" + "Z7VQ4KXDM2PLR5TN"  # shaped like an access key id, assembled so no scanner flags this file
PRIVATE_KEY = (
    "-----BEGIN "
    + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n-----END "
    + "RSA PRIVATE KEY-----\n"
)


# ---- Trivy -----------------------------------------------------------------------------------------------


def test_trivy_report_is_normalized_vulnerabilities_secrets_and_failed_misconfigurations() -> None:
    read = reports.read_trivy(DATA / "trivy-image.json")
    by_id = {f.id: f for f in read.findings}
    assert set(by_id) == {
        "CVE-2024-2961",
        "CVE-2023-45853",
        "CVE-2011-3374",
        "CVE-2024-6345",
        "CVE-2023-32681",
        "aws-access-key-id",
        "DS002",
        "DS026",
    }  # DS001 passed: not a finding
    glibc = by_id["CVE-2024-2961"]
    assert (glibc.package, glibc.installed, glibc.fixed, glibc.severity) == (
        "libc6",
        "2.36-9+deb12u4",
        "2.36-9+deb12u7",
        Severity.HIGH,
    )
    assert glibc.url == "https://avd.aquasec.com/nvd/cve-2024-2961"
    assert not by_id["CVE-2023-45853"].has_fix
    assert by_id["CVE-2024-6345"].location.startswith(
        "Python opt/venv/lib/python3.11/site-packages/setuptools"
    )
    secret = by_id["aws-access-key-id"]
    assert (secret.kind, secret.package, secret.line) == ("secret", "/app/config/settings.env", 2)
    assert "****" not in json.dumps(secret.__dict__, default=str)  # Trivy's masked match is not copied
    assert by_id["DS002"].kind == "misconfiguration" and by_id["DS002"].severity is Severity.HIGH
    assert read.image_id.startswith("sha256:3f8b5e2b")


def test_trivy_report_is_matched_to_the_image_by_id_or_by_its_layers() -> None:
    read = reports.read_trivy(DATA / "trivy-image.json")
    layers = list(read.diff_ids)
    assert len(layers) == 2
    assert read.describes(read.image_id, [])  # classic image store: the id is the config digest
    assert read.describes("sha256:" + "d" * 64, layers)  # containerd store: another id, the same layers
    assert read.describes("sha256:" + "d" * 64, layers[:1]) is False
    assert reports.Read([], []).describes("sha256:" + "d" * 64, layers) is None


def _trivy_text() -> str:
    return (DATA / "trivy-image.json").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (lambda t: t[: len(t) // 2], "trivy.json:"),  # cut in the middle, as a killed upload leaves it
        (lambda t: t[:-3], "it ends early (truncated?)"),
        (lambda t: "", "Trivy report is empty"),
        (lambda t: "[]", "got a list"),
        (lambda t: t.replace('"SchemaVersion": 2', '"SchemaVersion": 1'), "SchemaVersion must be one of 2"),
        (lambda t: t.replace('"ArtifactName": "scantest/app:1",', ""), "ArtifactName is missing"),
        (
            lambda t: t.replace(
                '"Severity": "HIGH",\n          "CweIDs": [\n            "CWE-787"',
                '"CweIDs": [\n            "CWE-787"',
                1,
            ),
            "Results[0].Vulnerabilities[0].Severity is missing",
        ),
        (
            lambda t: t.replace('"Severity": "LOW"', '"Severity": "BAD"', 1),
            "Results[0].Vulnerabilities[2].Severity must be one of",
        ),
        (
            lambda t: t.replace('"VulnerabilityID": "CVE-2024-6345",', '"VulnerabilityID": "",'),
            "Results[1].Vulnerabilities[0].VulnerabilityID",
        ),
        (
            lambda t: t.replace('"Results": [', '"Results": {"x": [', 1).replace("\n  ]\n}", "\n  ]}\n}"),
            "Results: input should be a valid list",
        ),
    ],
)
def test_malformed_or_truncated_trivy_reports_are_a_one_line_error(
    tmp_path: Path, content, expected: str
) -> None:
    path = tmp_path / "trivy.json"
    path.write_text(content(_trivy_text()), encoding="utf-8")
    with pytest.raises(DataError) as err:
        reports.read_trivy(path)
    message = str(err.value)
    assert expected in message and "\n" not in message, message
    assert "trivy image --format json --output trivy.json" in message


def test_missing_trivy_report_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Trivy report not found; regenerate it with"):
        reports.read_trivy(tmp_path / "nope.json")


def test_trivy_report_without_results_is_read_as_nothing_found_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "trivy.json"
    path.write_text(
        json.dumps({"SchemaVersion": 2, "ArtifactName": "scratch:1", "ArtifactType": "container_image"})
    )
    read = reports.read_trivy(path)
    assert read.findings == [] and "reported no targets" in read.notes[0]


# ---- pip-audit -------------------------------------------------------------------------------------------


def test_pip_audit_report_names_findings_by_cve_and_notes_skipped_packages() -> None:
    read = reports.read_pip_audit(DATA / "pip-audit.json")
    by_id = {f.id: f for f in read.findings}
    assert set(by_id) == {"CVE-2023-32681", "CVE-2024-22195"}
    requests_vuln = by_id["CVE-2023-32681"]
    assert (requests_vuln.package, requests_vuln.installed, requests_vuln.fixed) == (
        "requests",
        "2.28.1",
        "2.31.0",
    )
    assert requests_vuln.severity is Severity.UNKNOWN and "GHSA-j8r2-6x86-q33q" in requests_vuln.title
    assert "skipped 1 package(s)" in read.notes[0]


def test_pip_audit_legacy_list_format_is_read(tmp_path: Path) -> None:
    legacy = json.loads((DATA / "pip-audit.json").read_text())["dependencies"]
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(legacy))
    assert len(reports.read_pip_audit(path).findings) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"dependencies": [{"version": "1"}]}', "dependencies[0].name is missing"),
        ('{"dependencies": [{"name": "x", "vulns": [{"fix_versions": []}]}]}', "dependencies[0].vulns[0].id"),
        ('{"dependencies": [', "not valid JSON (Expecting value): it ends early (truncated?) (the pip-audit report)"),
    ],
)
def test_malformed_pip_audit_reports_are_a_one_line_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "audit.json"
    path.write_text(text)
    with pytest.raises(DataError, match="pip-audit") as err:
        reports.read_pip_audit(path)
    assert expected in str(err.value)


def test_a_duplicated_severity_key_is_refused_not_read_as_the_last_one(tmp_path: Path) -> None:
    """Last-one-wins would let `"Severity": "HIGH", "Severity": "LOW"` demote a finding so it stops blocking."""
    text = (DATA / "trivy-image.json").read_text()
    path = tmp_path / "trivy.json"
    path.write_text(text.replace('"Severity": "HIGH"', '"Severity": "HIGH", "Severity": "LOW"', 1))
    assert path.read_text() != text
    with pytest.raises(DataError, match=r"trivy\.json: duplicate key 'Severity' in one object") as err:
        reports.read_trivy(path)
    assert "regenerate it with `trivy image" in str(err.value)


@pytest.mark.timeout(30)
def test_a_report_nested_100k_levels_deep_is_a_data_error_not_recursion(tmp_path: Path) -> None:
    path = tmp_path / "trivy.json"
    path.write_text('{"SchemaVersion": 2, "ArtifactName": "x", "Results": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(DataError, match="nested too deeply to parse"):
        reports.read_trivy(path)


def test_a_report_over_the_size_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "trivy.json"
    with path.open("wb") as fh:  # sparse: the size is what counts, the bytes are never read
        fh.truncate(reports.MAX_REPORT_BYTES + 1)
    with pytest.raises(DataError, match=r"trivy\.json: the Trivy report is 32 MiB, over the 32 MiB the gate reads"):
        reports.read_trivy(path)


# ---- image facts -----------------------------------------------------------------------------------------


def test_root_user_is_a_finding_and_a_numeric_non_root_user_is_not() -> None:
    for user in ("", "root", "0", "0:0", "root:staff"):
        assert [f.id for f in facts.user_findings({"User": user})] == ["image.root-user"]
    for user in ("10001", "app", "10001:10001", "nobody"):
        assert facts.user_findings({"User": user}) == []


def test_missing_or_empty_labels_are_findings() -> None:
    config = {
        "Labels": {"org.opencontainers.image.title": "penguins", "org.opencontainers.image.source": " "}
    }
    found = facts.label_findings(
        config,
        [
            "org.opencontainers.image.title",
            "org.opencontainers.image.source",
            "org.opencontainers.image.revision",
        ],
    )
    assert [f.package for f in found] == [
        "org.opencontainers.image.source",
        "org.opencontainers.image.revision",
    ]
    assert facts.label_findings({"Labels": None}, ["a"])[0].package == "a"


def test_remote_add_is_recognised_from_both_builders_histories() -> None:
    history = [
        {"CreatedBy": f"/bin/sh -c #(nop) ADD file:{'0b5c9ac8' * 8} in / "},
        {"CreatedBy": f"/bin/sh -c #(nop) ADD dir:{'efa1a901' * 8} in /d"},
        {"CreatedBy": f"/bin/sh -c #(nop) ADD {'7164502f' * 8} in /x "},
        {"CreatedBy": "ADD --chmod=644 https://example.org/model.tar.gz /models/ # buildkit"},
        {"CreatedBy": "COPY app /app # buildkit"},
        {"CreatedBy": "RUN /bin/sh -c curl -fsSL https://example.org/x | sh # buildkit"},
    ]
    found = facts.history_findings(history)
    assert [(f.package, f.location) for f in found] == [
        ("remote source sha256:7164502f7164", "history step 3"),
        ("https://example.org/model.tar.gz", "history step 4"),
    ]


def test_compilers_and_package_caches_in_the_final_filesystem() -> None:
    files = [
        "usr/bin/gcc-12",
        "usr/bin/x86_64-linux-gnu-gcc-12",
        "usr/bin/cc",
        "usr/bin/python3",
        "usr/share/doc/gcc/README",
        "usr/lib/gcc/x86_64-linux-gnu/12/cc1",
        "var/lib/apt/lists/lock",
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
        "var/cache/apt/pkgcache.bin",
        "root/.cache/pip/http-v2/a/b/c",
        "home/app/.cache/pip/selfcheck.json",
        "opt/venv/bin/pip",
    ]
    found = {(f.id, f.package) for f in facts.file_findings(files)}
    assert found == {
        ("image.compiler", "/usr/bin/gcc-12"),
        ("image.compiler", "/usr/bin/x86_64-linux-gnu-gcc-12"),
        ("image.compiler", "/usr/bin/cc"),
        ("image.package-cache", "/var/lib/apt/lists"),
        ("image.package-cache", "/var/cache/apt"),
        ("image.package-cache", "/root/.cache/pip"),
        ("image.package-cache", "/home/app/.cache/pip"),
    }
    assert (
        facts.file_findings(["var/lib/apt/lists/lock", "var/lib/apt/lists/partial/x", "usr/bin/python3"])
        == []
    )


# ---- secrets ---------------------------------------------------------------------------------------------


def test_secret_like_environment_variables_are_found_without_their_values() -> None:
    env = [
        "PATH=/usr/bin",
        "TOKENIZERS_PARALLELISM=false",
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
        "DB_PASSWORD=hunter2hunter2",
        "AWS_ACCESS_KEY_ID=" + AWS_KEY,
        "API_KEY=",
        "GITHUB_TOKEN=true",
        "STRIPE_SECRET_KEY=abc123def456",
    ]
    found = secrets.scan_env(env)
    assert sorted(f.package for f in found) == [
        "ENV AWS_ACCESS_KEY_ID",
        "ENV DB_PASSWORD",
        "ENV STRIPE_SECRET_KEY",
    ]
    aws = next(f for f in found if f.package == "ENV AWS_ACCESS_KEY_ID")
    assert aws.id == "secret.aws-access-key" and aws.severity is Severity.CRITICAL
    text = json.dumps([f.__dict__ for f in found], default=str)
    assert AWS_KEY not in text and "hunter2" not in text


def test_detect_secrets_finds_keys_in_layer_files_and_ignores_inline_allowlist(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = {AWS_KEY}  # pragma: allowlist secret\n")
    key = tmp_path / "id_rsa"
    key.write_text(PRIVATE_KEY)
    clean = tmp_path / "settings.py"
    clean.write_text(
        "DEBUG = False\nsha = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'\n"
    )
    files = [
        secrets.LayerFile("root/.aws/credentials", creds, 1, 3, "sha256:" + "a" * 64, deleted_later=True),
        secrets.LayerFile("app/id_rsa", key, 2, 3, "sha256:" + "b" * 64, deleted_later=False),
        secrets.LayerFile("app/settings.py", clean, 2, 3, "", deleted_later=False),
    ]
    found = {f.id: f for f in secrets.scan_files(files)}
    assert set(found) == {"secret.aws-access-key", "secret.private-key"}
    aws = found["secret.aws-access-key"]
    assert (aws.package, aws.line, aws.location) == (
        "/root/.aws/credentials",
        2,
        "/root/.aws/credentials in layer 2/3 sha256:aaaaaaaaaaaa",
    )
    assert "deleted by a later layer, still shipped" in aws.title
    assert AWS_KEY not in json.dumps([f.__dict__ for f in found.values()], default=str)


def test_secret_candidates_follow_policy_paths_excludes_and_size() -> None:
    keep = secrets.Candidates(SecretsPolicy(paths=("/app", "/root"), max_file_bytes=100))
    assert keep("app/x.env", 10) and keep("root/.aws/credentials", 10)
    assert not keep("usr/lib/python3/x.py", 10) and not keep("application/x", 10)
    assert not keep("app/venv/lib/python3.11/site-packages/boto/x.py", 10)
    assert not keep("app/big.bin", 101) and keep.too_large == ["/app/big.bin"]


# ---- SBOM ------------------------------------------------------------------------------------------------


def test_sbom_lists_python_and_debian_packages_and_validates_as_cyclonedx() -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    files = {
        "opt/venv/lib/python3.11/site-packages/scikit_learn-1.5.2.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: scikit-learn\nVersion: 1.5.2\nLicense: BSD-3-Clause\n"
            b"Summary: A set of python modules for machine learning\n\nlong description\n"
        ),
        "usr/lib/python3/dist-packages/setuptools-66.1.1.egg-info/PKG-INFO": (
            b"Metadata-Version: 2.1\nName: setuptools\nVersion: 66.1.1\n"
        ),
        "opt/venv/lib/python3.11/site-packages/broken.dist-info/METADATA": b"garbage without headers",
        "var/lib/dpkg/status": b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n"
        b"Version: 2.36-9+deb12u4\n\nPackage: gone\nStatus: deinstall ok config-files\n"
        b"Version: 1.0\n",
        "etc/os-release": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
    }
    text, count = sbom.build("scantest/app:1", "sha256:" + "c" * 64, files, "0.1.0")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    purls = sorted(c["purl"] for c in bom["components"])
    assert purls == [
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
        "pkg:pypi/scikit-learn@1.5.2",
        "pkg:pypi/setuptools@66.1.1",
    ]
    assert count == 3 and bom["metadata"]["component"]["type"] == "container"


# ---- the layer reader ------------------------------------------------------------------------------------


def _tar(entries: dict[str, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _saved(layers: list[dict[str, bytes | None]]) -> bytes:
    names = [f"{i:064x}/layer.tar" for i in range(len(layers))]
    outer = {name: _tar(layer) for name, layer in zip(names, layers, strict=True)}
    outer["manifest.json"] = json.dumps([{"Config": "c.json", "RepoTags": None, "Layers": names}]).encode()
    return _tar(outer)


def test_layer_reader_rebuilds_the_final_filesystem_and_keeps_deleted_files(tmp_path: Path) -> None:
    archive = _saved(
        [
            {
                "etc/": None,
                "etc/os-release": b"ID=debian\n",
                "usr/bin/gcc": b"\x7fELF",
                "app/": None,
                "app/creds": b"secret",
                "cache/": None,
                "cache/a": b"1",
                "cache/sub/b": b"2",
            },
            {"app/.wh.creds": b"", "cache/.wh..wh..opq": b"", "cache/c": b"3", "./app/main.py": b"print()"},
        ]
    )
    chunks = [archive[i : i + 777] for i in range(0, len(archive), 777)]
    layers = read_saved(
        chunks, ["sha256:l0", "sha256:l1"], lambda path, size: path.startswith("app/"), tmp_path
    )
    assert [layer.diff_id for layer in layers.layers] == ["sha256:l0", "sha256:l1"]
    assert set(layers.final_files) == {"etc/os-release", "usr/bin/gcc", "cache/c", "app/main.py"}
    first, second = layers.layers
    assert first.kept["app/creds"].read_bytes() == b"secret"  # deleted later, still in layer 1
    assert layers.deleted_later("app/creds", 0) and not layers.deleted_later("app/main.py", 1)
    assert set(second.kept) == {"app/main.py"}


def test_layer_reader_rejects_an_archive_cut_short(tmp_path: Path) -> None:
    archive = _saved([{"a": b"1"}])
    with pytest.raises(DataError, match=r"could not be read|no manifest\.json"):
        read_saved([archive[: len(archive) // 3]], [], lambda p, s: False, tmp_path)
