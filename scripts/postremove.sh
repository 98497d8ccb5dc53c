#!/bin/sh
# deb postrm and rpm %postun of mathesar. The launcher is already gone when this runs, so
# the few steps are here. Purge removes the configuration, the state and the system user;
# the internal database is never dropped by a script, because it is the admin's data.
set -e
case "$1" in
purge)
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		deb-systemd-helper purge mathesar.service >/dev/null || true
	fi
	rm -rf /etc/mathesar /var/lib/mathesar /var/cache/mathesar
	if getent passwd mathesar >/dev/null 2>&1; then
		userdel mathesar || true
	fi
	echo "mathesar: the internal database mathesar_django was kept. To drop it:"
	echo "  sudo -u postgres dropdb mathesar_django && sudo -u postgres dropuser mathesar"
	;;
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
	fi
	;;
esac
exit 0
