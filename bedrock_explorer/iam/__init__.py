"""IAM policy checker: can the integration read its logs, and the exact policy to fix it."""
