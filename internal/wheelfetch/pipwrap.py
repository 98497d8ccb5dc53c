# Runs pip (argv[2:]) for a download target that is not this machine.
#
# argv[1] is a JSON object of PEP 508 marker values of the target CPython and OS/arch.
#
# pip download --python-version/--platform picks wheels for the target but still evaluates
# environment markers (tomli; python_version < "3.11", or anything with sys_platform) for the
# interpreter running pip, so a linux 3.11 host would skip the dependencies a CPython 3.10 or
# a macOS target needs. pip has no option for this, so the marker environment that pip's
# vendored packaging reads is replaced here.
#
# pip logs a project page it could not fetch (connection refused, timeout, HTTP 5xx, 404) at
# debug level only and then reports "No matching distribution", which hides a network
# failure behind what looks like a missing wheel. Those lines are echoed to stderr with a
# prefix the Go side reads.
import json
import logging
import sys

try:
    from pip._vendor.packaging import markers
    from pip._internal.cli.main import main
except ImportError as exc:
    sys.stderr.write("wheelfetch-no-pip: %s\n" % exc)
    sys.exit(120)

if sys.argv[1] == "probe":
    # The interpreter's real path spares later runs a launcher (a pyenv shim costs a
    # second); pip's version is for the log.
    import pip

    print(sys.executable)
    print(pip.__version__)
    sys.exit(0)

target = json.loads(sys.argv[1])
host_environment = markers.default_environment


def target_environment():
    env = host_environment()
    env.update(target)
    # The target's kernel is unknown at build time: a marker reading these must fail rather
    # than be decided by the build machine's kernel.
    for key in ("platform_release", "platform_version"):
        if key not in target:
            env.pop(key, None)
    return env


if target:
    markers.default_environment = target_environment


class FetchFailures(logging.Handler):
    def emit(self, record):
        try:
            msg = record.getMessage()
        except Exception:
            return
        if msg.startswith("Could not fetch URL"):
            sys.stderr.write("wheelfetch-fetch-failed: %s\n" % msg)
            sys.stderr.flush()


collector = logging.getLogger("pip._internal.index.collector")
collector.setLevel(logging.DEBUG)
collector.addHandler(FetchFailures(logging.DEBUG))

sys.exit(main(sys.argv[2:]))
