#!/bin/sh
# deb prerm and rpm %preun of mathesar: stops the service before its files go away
# (see internal/pkghook).
set -e
exec /usr/bin/mathesar package-hook prerm "$@"
