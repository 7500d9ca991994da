"""What operator commands do, apart from how they print it: AWS sessions, the deployed stack,
starting and following executions, dry runs, history, configs and the ECR push rule."""
