"""The CloudWatch Logs source: Bedrock writes each invocation as an event of a log group.

``settings.py`` what an integration stores, ``reader.py`` the FilterLogEvents reader, ``source.py``
the sync, the connection check, the IAM target and the error explanations.
"""
