"""The local source: log files and folders on this machine (exports, copied S3 trees).

``settings.py`` what an integration stores, ``reader.py`` the hostile-input-safe file reader,
``source.py`` the sync (an import of what changed).
"""
