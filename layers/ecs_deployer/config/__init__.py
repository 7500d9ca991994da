"""App configs: the models (ECS Toolkit's v1 format plus our keys) and their parsing.

They are stored in SSM Parameter Store: ``aws/ssm.py``.
"""
