"""Sources of raw invocation log lines: local files, the demo generator, CloudWatch Logs and S3."""
