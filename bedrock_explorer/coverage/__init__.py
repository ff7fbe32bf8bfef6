"""Coverage: what the invocation logs do not see.

Every figure is only as complete as the logs, and logging is set per account and region. AWS
publishes per-model ``AWS/Bedrock`` CloudWatch metrics for every invocation, logged or not, so
the gap can be measured: :mod:`.measure` reads the logging configuration of each region and the
metrics into the store; :mod:`.report` compares them with the stored invocations (the same
functions feed the CLI, the Integrations page and the Explorer's badge).
"""
