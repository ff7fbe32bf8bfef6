"""Where invocation logs come from: one folder per kind of source.

Each kind (``cloudwatch/``, ``s3/``, ``local/``) holds its typed settings and field spec
(``settings.py``), its reader (``reader.py``) and what it does behind the :class:`Source`
protocol (``source.py``: sync, connection check, IAM target, error sentences). ``registry.py``
finds a kind by name; ``settings.py`` holds what the kinds share (sign-in, the base classes);
``byte_stream.py`` and ``documents.py`` are the bounded readers every file-based kind uses.
"""
