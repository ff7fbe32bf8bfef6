"""IAM test material shared by the unit, page and browser tests."""

from __future__ import annotations

import json

GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/bedrock/modelinvocations"
READ = [
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
]
#: The classic setup failure: an inline NopsIntegrationPolicy allowing the reads beside a Deny.
CLASSIC = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": READ, "Resource": "*"},
        {
            "Sid": "DenyStreamReads",
            "Effect": "Deny",
            "Action": "logs:GetLogEvents",
            "Resource": "*",
        },
    ],
}
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
