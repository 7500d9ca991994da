"""Small typed adapters around the AWS APIs the deployer calls; nothing else talks to botocore."""
