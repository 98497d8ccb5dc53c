#!/bin/sh
# deb postinst and rpm %post of mathesar. The steps live in `mathesar package-hook`
# (internal/pkghook), where they are tested: dpkg passes configure [OLD-VERSION], rpm the
# number of installed versions.
set -e
exec /usr/bin/mathesar package-hook postinst "$@"
