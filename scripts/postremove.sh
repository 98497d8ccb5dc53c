#!/bin/sh
# deb postrm and rpm %postun of mathesar. The launcher is already gone when this runs, so
# the few steps are here. Purge removes the configuration, the state and the system user;
# the internal database and the dumps in /var/backups/mathesar are never deleted by a
# script, because they are the admin's data (docs/packaging.md).
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
	echo "mathesar: the internal database mathesar_django was kept. To drop it from the local PostgreSQL:"
	echo "  sudo -u postgres dropdb --if-exists mathesar_django && sudo -u postgres dropuser --if-exists mathesar"
	if [ -d /var/backups/mathesar ]; then
		echo "mathesar: the database dumps in /var/backups/mathesar were kept. To delete them:"
		echo "  sudo rm -r /var/backups/mathesar"
	fi
	;;
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
	fi
	;;
esac
exit 0
