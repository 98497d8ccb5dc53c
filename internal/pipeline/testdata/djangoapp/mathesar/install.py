"""Sets up or upgrades the app as Mathesar's `python -m mathesar.install` does: migrate,
then collect static files unless SKIP_STATIC_COLLECTION is t/true/True."""
import os

import django
from django.core import management


def main(skip_static_collection=False):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    django.setup()
    management.call_command("migrate")
    if not skip_static_collection:
        management.call_command("collectstatic", no_input=True, clear=True, verbosity=0)


if __name__ == "__main__":
    main(skip_static_collection=os.environ.get("SKIP_STATIC_COLLECTION") in ("t", "true", "True"))
