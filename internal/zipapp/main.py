"""Entry point of mathesar.pyz when it is run as `python3 mathesar.pyz COMMAND`.

The `mathesar` launcher is the usual way in: it verifies this archive, unpacks it once into a
cache and runs Mathesar from there, because compiled dependencies cannot be imported from a
zip. Without the launcher this file still answers `version`, `manifest` and `help`, so a user
who only has the pyz can tell what it is.
"""

import json
import os
import sys
import zipfile

ARCHIVE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = "manifest.json"


def read_manifest():
    with zipfile.ZipFile(ARCHIVE) as archive:
        return json.loads(archive.read(MANIFEST))


def app_version():
    # zipimport reads a subdirectory of an archive as its own sys.path entry, so the app's
    # pure-Python version module imports straight from the zip.
    sys.path.insert(0, os.path.join(ARCHIVE, "app"))
    from mathesar import __version__

    return __version__


def python_in_range(manifest):
    low = tuple(int(p) for p in manifest["python"]["min"].split("."))
    high = tuple(int(p) for p in manifest["python"]["max"].split("."))
    return low <= sys.version_info[:2] <= high


def usage(out):
    out.write(
        "usage: python3 mathesar.pyz {version|manifest|help}\n\n"
        "This archive holds Mathesar and its Python dependencies. Run Mathesar with the\n"
        "`mathesar` launcher (`mathesar run`, `mathesar setup`, `mathesar doctor`), which\n"
        "unpacks it once and starts it with a suitable Python.\n"
    )


def main(argv):
    command = argv[1] if len(argv) > 1 else "help"
    manifest = read_manifest()
    if not python_in_range(manifest):
        sys.stderr.write(
            "warning: this bundle serves CPython %s to %s; this is %d.%d\n"
            % (manifest["python"]["min"], manifest["python"]["max"], *sys.version_info[:2])
        )
    if command in ("version", "--version"):
        label = " (sample app)" if manifest["app"].get("sample") else ""
        print("%s %s%s" % (manifest["app"]["name"], app_version(), label))
        print("build %s" % manifest["build_id"][:12])
        print(
            "python %s-%s, %s/%s"
            % (
                manifest["python"]["min"],
                manifest["python"]["max"],
                manifest["platform"]["os"],
                manifest["platform"]["arch"],
            )
        )
        return 0
    if command == "manifest":
        json.dump(manifest, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return 0
    if command in ("help", "-h", "--help"):
        usage(sys.stdout)
        return 0
    sys.stderr.write("mathesar.pyz: unknown command %r\n\n" % command)
    usage(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
