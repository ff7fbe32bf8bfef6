"""The S3 source: Bedrock delivers gzip NDJSON objects under ``AWSLogs/<account>/…``.

``settings.py`` what an integration stores, ``reader.py`` the listing and parallel fetch,
``source.py`` the sync, the connection check, the IAM target and the error explanations.
"""
