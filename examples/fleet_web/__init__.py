"""A web app for a fleet of devices: ``web_v1.py``, ``web_v2.py`` and a broken ``web_v3_broken.py``.

Each file defines ``score``, a ``Container`` Score that ``harmony fleet deploy NAME FILE`` ships to devices.
"""
