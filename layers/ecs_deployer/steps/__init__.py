"""The steps of a deployment, one module per state-machine step."""
