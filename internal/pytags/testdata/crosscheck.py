"""Cross-check for the pytags Go package: prints what pip's vendored packaging says.

Reads JSON {"cases": [...], "wheels": [[tag set, ...], ...]} on stdin; for each case
({"name", "minor", "os", "arch", "glibc", "macos"}, arch in wheel spelling) prints the
tags packaging's sys_tags would yield on such a machine, and the index of the wheel
(tag-set list) pip would pick, or -1.
"""
import inspect
import json
import sys

from pip._vendor import packaging
from pip._vendor.packaging import _manylinux, tags


def linux_platforms(arch, glibc):
    # The probes platform_tags makes of the running machine, answered for the target.
    _manylinux._get_glibc_version = lambda: tuple(glibc)
    _manylinux._have_compatible_abi = lambda *args: True
    # _is_compatible lets a site-provided _manylinux module veto tags; hide any.
    sys.modules["_manylinux"] = None
    params = inspect.signature(_manylinux.platform_tags).parameters
    if len(params) == 1:  # packaging >= 22: platform_tags(archs)
        found = list(_manylinux.platform_tags([arch]))
    else:  # packaging 21: platform_tags(linux, arch)
        found = list(_manylinux.platform_tags("linux_" + arch, arch))
    # musllinux tags come next in _linux_platforms, but only on musl machines.
    return found + ["linux_" + arch]


def main():
    req = json.load(sys.stdin)
    out = {"packaging": packaging.__version__, "cases": {}}
    for case in req["cases"]:
        minor = case["minor"]
        if case["os"] == "darwin":
            plats = list(tags.mac_platforms(version=tuple(case["macos"]), arch=case["arch"]))
        else:
            plats = linux_platforms(case["arch"], case["glibc"])
        version = (3, minor)
        interp = "cp3%d" % minor
        abi = case["abi"]
        seq = list(tags.cpython_tags(python_version=version, abis=[abi], platforms=plats))
        seq += list(tags.compatible_tags(python_version=version, interpreter=interp, platforms=plats))
        rank = {}
        for i, t in enumerate(seq):
            rank.setdefault(t, i)
        best = []
        for group in req["wheels"]:
            choice, choice_rank = -1, None
            for w, tagset in enumerate(group):
                ranks = [rank[t] for t in tags.parse_tag(tagset) if t in rank]
                if ranks and (choice_rank is None or min(ranks) < choice_rank):
                    choice, choice_rank = w, min(ranks)
            best.append(choice)
        out["cases"][case["name"]] = {"tags": [str(t) for t in seq], "best": best}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
